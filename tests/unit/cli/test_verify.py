"""``spiffebind verify``: exit codes, output shapes, token input forms, and how the CLI says
it cannot reach a daemon (through ``main``, where errors become messages)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from spiffebind.cli import main
from spiffebind.cli.verify import verify
from spiffebind.testing.pki import Authority, Issued
from spiffebind.token import SigningIdentity, mint

AUD = "spiffe://example.org/tools/search"
AGENT = "spiffe://example.org/agents/planner"


class Env:
    def __init__(self, tmp: Path) -> None:
        root = Authority.root("example.org")
        inter = root.intermediate()
        self.signer = inter.issue("spiffe://example.org/spiffebind/node-1")
        self.agent: Issued = inter.issue(AGENT)
        self.bundle = tmp / "bundle.pem"
        self.bundle.write_bytes(root.bundle_pem)
        self.peer = tmp / "peer.pem"
        self.peer.write_bytes(self.agent.chain_pem())
        self.tmp = tmp

    def token(self, *, now: float | None = None, ttl: int = 300) -> str:
        return mint(
            SigningIdentity(tuple(self.signer.chain), self.signer.key),
            agent_cert=self.agent.cert,
            audiences=[AUD],
            scopes=["search:read"],
            ttl=ttl,
            max_ttl=3600,
            now=time.time() if now is None else now,
            txn="task-1",
        ).token

    def args(self, *extra: str) -> list[str]:
        return [
            "--offline",
            "--bundle",
            f"example.org={self.bundle}",
            "--issuer",
            "spiffe://example.org/spiffebind/*",
            "--audience",
            AUD,
            "--peer-cert",
            str(self.peer),
            *extra,
        ]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    return Env(tmp_path_factory.mktemp("verify"))


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(verify, list(args), input=stdin)


def test_valid_json(env: Env) -> None:
    result = run(*env.args("--json", env.token()))
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {"valid", "claims", "chain"}
    assert document["valid"] is True
    assert document["chain"] == [AGENT]
    assert document["claims"]["cnf"]["x5t#S256"]


def test_valid_text(env: Env) -> None:
    result = run(*env.args(env.token()))
    assert result.exit_code == 0
    assert result.stdout.startswith("valid: ")


def test_rejected_json(env: Env) -> None:
    result = run(*env.args("--json", "--scope", "docs:write", env.token()))
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"valid": False, "reason": "insufficient_scope"}
    assert "insufficient_scope" in result.stderr


def test_missing_peer_cert_is_binding_missing(env: Env) -> None:
    args = env.args("--json", env.token())
    i = args.index("--peer-cert")
    del args[i : i + 2]
    result = run(*args)
    assert (result.exit_code, json.loads(result.stdout)["reason"]) == (1, "binding_missing")


def test_token_file_strips_exactly_one_newline(env: Env, tmp_path: Path) -> None:
    token = env.token()
    one, two = tmp_path / "one", tmp_path / "two"
    one.write_text(token + "\n")
    two.write_text(token + "\n\n")
    assert run(*env.args("--token-file", str(one))).exit_code == 0
    result = run(*env.args("--json", "--token-file", str(two)))
    assert (result.exit_code, json.loads(result.stdout)["reason"]) == (1, "malformed")


def test_stdin(env: Env) -> None:
    assert run(*env.args("-"), stdin=env.token() + "\n").exit_code == 0


def test_oversized_file_is_malformed(env: Env, tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_text("A" * 100_000)
    result = run(*env.args("--json", "--token-file", str(big)))
    assert (result.exit_code, json.loads(result.stdout)["reason"]) == (1, "malformed")


def test_clock_skew_option(env: Env) -> None:
    old = env.token(now=time.time() - 320, ttl=300)  # expired 20 s ago
    assert run(*env.args(old)).exit_code == 0
    result = run(*env.args("--json", "--clock-skew", "5", old))
    assert json.loads(result.stdout) == {"valid": False, "reason": "expired"}


def test_max_lifetime_option(env: Env) -> None:
    result = run(*env.args("--json", "--max-lifetime", "60", env.token()))
    assert json.loads(result.stdout) == {"valid": False, "reason": "lifetime_too_long"}


@pytest.mark.parametrize(
    "case",
    [
        "no-token",
        "token-and-file",
        "bad-bundle-arg",
        "bundle-not-pem",
        "bad-issuer",
        "no-issuer",
        "no-offline-no-socket",
        "peer-not-pem",
        "missing-token-file",
        "negative-skew",
    ],
)
def test_usage_errors_exit_2(env: Env, case: str) -> None:
    token = env.token()
    argv = {
        "no-token": env.args(),
        "token-and-file": env.args("--token-file", str(env.peer), token),
        "bad-bundle-arg": [*env.args(token), "--bundle", "nonsense"],
        "bundle-not-pem": [*env.args(token), "--bundle", f"other.org={env.tmp}"],
        "bad-issuer": [*env.args(token), "--issuer", "https://x"],
        "no-issuer": [
            "--offline",
            "--bundle",
            f"example.org={env.bundle}",
            "--audience",
            AUD,
            token,
        ],
        "no-offline-no-socket": ["--audience", AUD, token],
        "peer-not-pem": [*env.args(token), "--peer-cert", str(env.bundle.with_name("nope"))],
        "missing-token-file": env.args("--token-file", str(env.tmp / "absent")),
        "negative-skew": env.args("--clock-skew", "-1", token),
    }[case]
    result = run(*argv)
    assert result.exit_code == 2, result.stdout
    assert result.stdout == ""


def _main(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def test_unreachable_daemon_is_one_message_naming_the_socket(env: Env) -> None:
    absent = env.tmp / "absent.sock"
    result = _main("verify", "--socket", f"unix://{absent}", "--audience", AUD, env.token())
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"spiffebind: error: cannot reach the daemon at {absent}\n"


def test_verify_finds_the_daemon_through_the_environment(env: Env) -> None:
    absent = env.tmp / "from-env.sock"
    result = _main(
        "verify", "--audience", AUD, env.token(), env={"SPIFFEBIND_ENDPOINT_SOCKET": str(absent)}
    )
    assert result.exit_code == 2
    assert result.stderr == f"spiffebind: error: cannot reach the daemon at {absent}\n"


def test_offline_with_socket_is_a_usage_error_but_the_environment_is_ignored(env: Env) -> None:
    both = _main("verify", "--socket", str(env.tmp / "a.sock"), *env.args(env.token()))
    assert both.exit_code == 2
    assert "--offline verifies without a daemon: drop --socket" in both.stderr
    from_env = _main(
        "verify", *env.args(env.token()), env={"SPIFFEBIND_ENDPOINT_SOCKET": "/nonexistent.sock"}
    )
    assert from_env.exit_code == 0, from_env.stderr


def test_json_failures_are_one_json_object(env: Env) -> None:
    absent = env.tmp / "absent.sock"
    unreachable = _main("verify", "--json", "--socket", str(absent), "--audience", AUD, "t")
    assert unreachable.exit_code == 2
    assert json.loads(unreachable.stdout) == {
        "error": "unreachable",
        "error_description": f"cannot reach the daemon at {absent}",
    }
    usage = _main("verify", "--json", "--socket", str(absent), *env.args(env.token()))
    assert usage.exit_code == 2
    document = json.loads(usage.stdout)
    assert document["error"] == "usage"
    assert "drop --socket" in document["error_description"]


def test_a_rejection_is_printed_once(env: Env) -> None:
    for extra, stdout in (((), ""), (("--json",), '{"reason": "malformed", "valid": false}\n')):
        result = run(*env.args(*extra, "not-a-token"))
        assert result.exit_code == 1
        assert (result.stdout, result.stderr) == (stdout, "spiffebind: token rejected: malformed\n")


@pytest.mark.parametrize("command", ["status", "healthcheck"])
def test_operator_commands_name_the_socket_they_cannot_reach(env: Env, command: str) -> None:
    absent = env.tmp / "absent.sock"
    result = _main(command, "--socket", str(absent))
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"spiffebind: error: cannot reach the daemon at {absent}\n"
