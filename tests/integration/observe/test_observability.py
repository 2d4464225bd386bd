"""Acceptance of observability: after a scripted workload against real SPIRE, every counter
has its exact value, the probes and status tell the truth, the audit trail validates and
verifies (and tampering is caught), and no log holds a token or a key."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from jsonschema import Draft202012Validator
from observekit import AGENT, MAIL, NEW_POLICY, OLD_POLICY, SEARCH, Observed, samples

from spiffebind import __version__
from spiffebind.errors import Reason
from spiffebind.observe.audit_event import EVENT_SCHEMA
from spiffebind.observe.metrics import INVALIDATION_CAUSES

pytestmark = pytest.mark.integration

DENIED_VERIFICATIONS = {
    "binding_mismatch": 1,
    "audience_mismatch": 1,
    "insufficient_scope": 1,
    "revoked": 2,
}
# (event, decision, reason) of every audit line, in order
TRAIL = [
    ("startup", "allow", ""),
    ("issue", "allow", ""),
    ("issue", "allow", ""),
    ("issue", "deny", "policy_denied"),
    ("verify", "allow", ""),
    ("verify", "deny", "binding_mismatch"),
    ("verify", "deny", "audience_mismatch"),
    ("verify", "deny", "insufficient_scope"),
    ("revoke", "allow", ""),
    ("verify", "deny", "revoked"),
    ("revoke", "allow", ""),
    ("verify", "deny", "revoked"),
    ("policy_reload", "allow", ""),
    ("issue", "allow", ""),
    ("shutdown", "allow", ""),
]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _value(seen: Observed, name: str, **labels: str) -> float | None:
    return seen.metrics.get((name, tuple(sorted(labels.items()))))


def _family(seen: Observed, name: str, label: str) -> dict[str, float]:
    return {dict(key)[label]: v for (n, key), v in seen.metrics.items() if n == name}


def _audit(seen: Observed) -> list[dict[str, object]]:
    return [json.loads(line) for line in seen.audit_log.read_text().splitlines()]


def test_every_decision_is_counted_exactly(observed: Observed) -> None:
    issued = {
        (dict(k)["result"], dict(k)["reason"]): v
        for (n, k), v in observed.metrics.items()
        if n == "spiffebind_tokens_issued_total"
    }
    assert issued == {
        ("allow", ""): 3.0,
        **{("deny", r.value): 1.0 if r is Reason.POLICY_DENIED else 0.0 for r in Reason},
    }
    verified = {
        (dict(k)["source"], dict(k)["result"], dict(k)["reason"]): v
        for (n, k), v in observed.metrics.items()
        if n == "spiffebind_token_verifications_total"
    }
    assert verified == {
        ("verify_token", "allow", ""): 1.0,
        **{
            ("verify_token", "deny", r.value): float(DENIED_VERIFICATIONS.get(r.value, 0))
            for r in Reason
        },
        ("ext_authz", "allow", ""): 0.0,  # no ext_authz socket here
        **{("ext_authz", "deny", r.value): 0.0 for r in Reason},
    }
    assert _family(observed, "spiffebind_revocations_total", "kind") == {"jti": 1.0, "txn": 1.0}
    assert _family(observed, "spiffebind_tokens_invalidated_total", "cause") == {
        "revocation": 1.0,
        "task_end": 1.0,
        "rotation": 0.0,
    }
    assert set(INVALIDATION_CAUSES) == {"revocation", "task_end", "rotation"}
    assert _family(observed, "spiffebind_policy_reloads_total", "result") == {
        "ok": 1.0,
        "refused": 0.0,
    }
    assert _family(observed, "spiffebind_workload_api_reconnects_total", "stream") == {
        "x509": 0.0,
        "jwt_bundles": 0.0,
    }
    exact = {
        "spiffebind_revocations_held": 2.0,
        "spiffebind_svid_rotations_total": 0.0,  # the JWT bundle arriving is no rotation
        "spiffebind_ready": 1.0,
        "spiffebind_identity_ready": 1.0,
        "spiffebind_workload_api_up": 1.0,
        "spiffebind_policy_rules": 2.0,
        "spiffebind_audit_write_errors_total": 0.0,
    }
    assert {name: _value(observed, name) for name in exact} == exact
    assert _value(observed, "spiffebind_build_info", version=__version__) == 1.0


def test_each_signed_request_is_remembered_against_replay(observed: Observed) -> None:
    early = samples(observed.early_metrics_text)
    assert early[("spiffebind_replay_cache_entries", ())] == 3.0  # two issued, one refused
    assert 1.0 <= observed.metrics[("spiffebind_replay_cache_entries", ())] <= 6.0


def test_each_rpc_is_timed_by_method_and_code(observed: Observed) -> None:
    counts = {
        (
            dict(k)["grpc_service"].rpartition(".")[2],
            dict(k)["grpc_method"],
            dict(k)["grpc_code"],
        ): v
        for (n, k), v in observed.metrics.items()
        if n == "spiffebind_grpc_server_handling_seconds_count" and dict(k)["grpc_type"] == "unary"
    }
    assert counts == {
        ("TokenService", "GetInfo", "OK"): 7.0,  # once per token (4) and revoke (2) run, status
        ("TokenService", "IssueToken", "OK"): 3.0,
        ("TokenService", "IssueToken", "PERMISSION_DENIED"): 1.0,
        ("TokenService", "VerifyToken", "OK"): 6.0,  # a refused token is a normal answer
        ("TokenService", "RevokeToken", "OK"): 2.0,
        ("TokenService", "IntrospectToken", "OK"): 0.0,
        ("TokenService", "ExchangeToken", "OK"): 0.0,
        ("Authorization", "Check", "OK"): 0.0,  # ext_authz's, not served here
        ("Health", "Check", "OK"): 2.0,  # the two healthcheck runs
        ("Health", "List", "OK"): 0.0,
    }


def test_expiry_and_process_metrics_are_exported(observed: Observed) -> None:
    expiry = _value(observed, "spiffebind_svid_expiry_timestamp_seconds")
    assert expiry is not None
    assert int(expiry) == observed.status["svid_expires_at"]
    assert (_value(observed, "process_resident_memory_bytes") or 0.0) > 0
    assert _value(observed, "process_cpu_seconds_total") is not None
    assert any(name == "python_info" for name, _ in observed.metrics)


def test_no_identity_jti_or_txn_reaches_a_label(observed: Observed) -> None:
    secrets = [AGENT, observed.daemon_id, "obs-task-"]
    secrets += [token["jti"] for token in observed.tokens.values()]
    for (name, labels), _ in observed.metrics.items():
        for key, value in labels:
            assert not any(s in value for s in secrets), (name, key, value)
    assert not any(s in observed.metrics_text for s in secrets)


def test_health_and_readiness_probes(observed: Observed) -> None:
    assert observed.http["/healthz"] == (200, "ok\n")
    assert observed.http["/readyz"] == (200, "ready\n")
    assert observed.http["/nothing-here"][0] == 404
    code, body = observed.http["/readyz not writable"]
    assert code == 503
    assert re.fullmatch(r"not ready: state directory /\S+/state is not writable\n", body), body


def test_status_reports_identity_readiness_policy_and_counts(observed: Observed) -> None:
    status = observed.status
    assert status["spiffe_id"] == observed.daemon_id
    assert status["trust_domains"] == ["example.org"]
    assert (status["ready"], status["not_ready_reason"]) == (True, "")
    assert status["policy_digest"] == _digest(NEW_POLICY) != _digest(OLD_POLICY)
    assert status["policy_rules"] == 2
    assert status["revocations_held"] == 2
    assert status["uptime_seconds"] > 0
    assert status["version"] == __version__
    assert isinstance(status["svid_expires_at"], int)


def test_status_and_healthcheck_say_why_the_daemon_is_not_ready(observed: Observed) -> None:
    status = observed.not_ready["status"]
    assert status.code == 1
    assert status.json()["ready"] is False
    assert "state directory" in status.json()["not_ready_reason"]
    assert status.json()["spiffe_id"] == observed.daemon_id
    assert observed.not_ready["healthcheck"].code == 1
    assert observed.healthcheck_ready == 0


def test_the_cli_saw_the_same_verdicts(observed: Observed) -> None:
    verdicts = {name: (run.code, run.json()) for name, run in observed.verdicts.items()}
    assert verdicts["ok"][0] == 0
    assert verdicts["ok"][1]["chain"] == [AGENT]
    expected_reasons = {
        "binding_mismatch": "binding_mismatch",
        "audience_mismatch": "audience_mismatch",
        "insufficient_scope": "insufficient_scope",
        "revoked_jti": "revoked",
        "revoked_txn": "revoked",
    }
    for name, reason in expected_reasons.items():
        assert verdicts[name] == (1, {"valid": False, "reason": reason}), name
    assert observed.stop_code == 0


def test_every_audit_line_validates_and_tells_the_story(observed: Observed) -> None:
    events = _audit(observed)
    validator = Draft202012Validator(EVENT_SCHEMA)
    for number, event in enumerate(events, 1):
        errors = [e.message for e in validator.iter_errors(event)]
        assert not errors, (number, errors)
    assert [(e["event"], e["decision"], e["reason"]) for e in events] == TRAIL

    t1, t3 = observed.tokens["t1"], observed.tokens["t3"]
    issue = events[1]
    assert (issue["client_id"], issue["jti"], issue["txn"]) == (AGENT, t1["jti"], "obs-task-1")
    assert (issue["aud"], issue["scope"], issue["rule"]) == (
        [SEARCH],
        "search:read",
        "agents-search",
    )
    assert issue["signer"] == observed.daemon_id
    assert (events[8]["jti"], events[8]["txn"]) == (t1["jti"], "")
    assert (events[10]["jti"], events[10]["txn"]) == ("", "obs-task-2")
    foreign = x509.load_pem_x509_certificate(observed.foreign_pem)
    der = foreign.public_bytes(serialization.Encoding.DER)
    expected_x5t = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
    assert events[5]["peer_x5t"] == expected_x5t
    digests = [e["policy_digest"] for e in events]
    assert set(digests[:12]) == {_digest(OLD_POLICY)}
    assert set(digests[12:]) == {_digest(NEW_POLICY)}
    assert (events[13]["jti"], events[13]["aud"]) == (t3["jti"], [MAIL])


def _audit_verify(*files: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "spiffebind.cli", "audit", "verify", *map(str, files)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_the_audit_chain_verifies(observed: Observed) -> None:
    done = _audit_verify(observed.audit_log)
    assert (done.returncode, done.stdout) == (0, f"ok: {len(TRAIL)} events\n")


@pytest.mark.parametrize(
    ("change", "named"),
    [
        pytest.param("edit", 7, id="an allow written into line 6 is caught at line 7"),
        pytest.param("delete", 6, id="deleting line 6 is caught at line 6"),
    ],
)
def test_tampering_with_one_line_is_caught_and_named(
    observed: Observed, tmp_path: Path, change: str, named: int
) -> None:
    lines = observed.audit_log.read_text().splitlines(keepends=True)
    assert '"decision":"deny","reason":"binding_mismatch"' in lines[5]
    if change == "edit":
        lines[5] = lines[5].replace('"decision":"deny"', '"decision":"allow"')
    else:
        del lines[5]
    tampered = tmp_path / "audit.log"
    tampered.write_text("".join(lines))

    done = _audit_verify(tampered)

    assert done.returncode == 1
    assert done.stderr.startswith(f"{tampered}:{named}: wrong_prev: "), done.stderr


def test_no_log_holds_a_token_or_key_material(observed: Observed) -> None:
    tokens = [t["access_token"] for t in observed.tokens.values()]
    assert len(tokens) == 3
    assert all(t.startswith("eyJ") for t in tokens)
    signatures = [t.rsplit(".", 1)[1] for t in tokens]
    logs = observed.logs()
    assert len(observed.daemon_log.splitlines()) > 20, "the daemon logged at debug level"
    for name, text in logs.items():
        assert "eyJ" not in text, name
        assert "PRIVATE KEY" not in text, name
        for secret in [*tokens, *signatures]:
            assert secret not in text, name
