"""``spiffebind verify --offline --dpop-proof``: possession by DPoP instead of mTLS."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from test_verify import Env

from spiffebind.cli.verify import verify
from spiffebind.token.dpop import make_proof

URI = "https://tool.example.org/mcp"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    return Env(tmp_path_factory.mktemp("verify-dpop"))


def _args(env: Env, *extra: str) -> list[str]:
    args = env.args(*extra)
    i = args.index("--peer-cert")
    del args[i : i + 2]
    return args


def _run(*args: str) -> Result:
    return CliRunner().invoke(verify, list(args))


def _proof(env: Env, token: str, body: bytes | None = None, method: str = "POST") -> str:
    return make_proof(
        env.agent.key, method=method, uri=URI, now=time.time(), access_token=token, body=body
    )


def test_a_dpop_proof_proves_possession(env: Env, tmp_path: Path) -> None:
    token = env.token()
    body = tmp_path / "body.json"
    body.write_bytes(b'{"jsonrpc":"2.0","method":"tools/call"}')
    proof = _proof(env, token, body.read_bytes())
    flags = ("--json", "--dpop-proof", proof, "--method", "POST", "--uri", URI)
    result = _run(*_args(env, *flags, "--body-file", str(body), token))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["claims"]["cnf"]["jkt"]


@pytest.mark.parametrize(
    ("name", "method", "body"),
    [("proof-for-another-method", "GET", None), ("proof-for-another-body", "POST", b"{}")],
)
def test_a_proof_for_another_request_is_proof_invalid(
    env: Env, tmp_path: Path, name: str, method: str, body: bytes | None
) -> None:
    token = env.token()
    sent = tmp_path / "sent.json"
    sent.write_bytes(b'{"sent":true}')
    flags = ["--json", "--dpop-proof", _proof(env, token, body, method), "--method", "POST"]
    flags += ["--uri", URI, "--body-file", str(sent)]
    result = _run(*_args(env, *flags, token))
    assert (result.exit_code, json.loads(result.stdout)["reason"]) == (1, "proof_invalid")


@pytest.mark.parametrize(
    "flags",
    [
        ("--dpop-proof", "x.y.z", "--uri", URI),
        ("--dpop-proof", "x.y.z", "--method", "POST"),
        ("--method", "POST", "--uri", URI),
        ("--body-file", "/dev/null"),
    ],
    ids=["no-method", "no-uri", "method-without-proof", "body-without-proof"],
)
def test_dpop_flags_go_together(env: Env, flags: tuple[str, ...]) -> None:
    result = _run(*_args(env, *flags, env.token()))
    assert result.exit_code == 2


def test_peer_cert_and_dpop_proof_exclude_each_other(env: Env) -> None:
    result = _run(*env.args("--dpop-proof", "x.y.z", "--method", "POST", "--uri", URI, "t"))
    assert (result.exit_code, "not both" in result.output) == (2, True)
