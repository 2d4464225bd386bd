"""Acceptance 2: a signed request that fails authentication is refused before anything is
issued, with UNAUTHENTICATED and the reason in ``spiffebind-reason``."""

from __future__ import annotations

import time
from collections.abc import Callable

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from daemonkit import SEARCH, Agent, Agents, Issuances, audit_events, failure, issue, sample

from spiffebind.api.v1 import spiffebind_pb2_grpc
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.token import REQUEST_TYP
from spiffebind.token.jose import b64url_encode, sign_compact

pytestmark = pytest.mark.integration

OTHER_DAEMON = "spiffe://example.org/spiffebind/node-2"
PARAMS = {"op": "issue", "audience": SEARCH, "scope": "search:read"}


def _signed_with_a_key_not_of_its_certificate(agent: Agent, daemon_id: str) -> str:
    header = {"alg": agent.identity.alg, "typ": REQUEST_TYP, "x5c": list(agent.identity.x5c)}
    claims = {"aud": daemon_id, "iat": int(time.time()), "jti": b64url_encode(b"x" * 16)}
    return sign_compact(header, {**claims, **PARAMS}, ec.generate_private_key(ec.SECP256R1()))


Forge = Callable[[Agent, str], str]
DEFECTS: dict[str, tuple[Forge, str]] = {
    "key-not-matching-certificate": (_signed_with_a_key_not_of_its_certificate, "bad_signature"),
    "iat-stale": (lambda a, d: a.proof(d, PARAMS, now=time.time() - 600), "expired"),
    "iat-future": (lambda a, d: a.proof(d, PARAMS, now=time.time() + 600), "not_yet_valid"),
    "addressed-to-another-daemon": (
        lambda a, _: a.proof(OTHER_DAEMON, PARAMS),
        "audience_mismatch",
    ),
}


@pytest.mark.parametrize("defect", DEFECTS)
def test_refused_and_nothing_issued(
    defect: str,
    daemon: DaemonProcess,
    agents: Agents,
    stub: spiffebind_pb2_grpc.TokenServiceStub,
) -> None:
    forge, reason = DEFECTS[defect]
    before = Issuances.of(daemon)
    denied = sample(daemon, "spiffebind_tokens_issued_total", result="deny", reason=reason)

    code, got = failure(lambda: issue(stub, forge(agents.a, daemon.spiffe_id)))

    assert (code, got) == (grpc.StatusCode.UNAUTHENTICATED, reason)
    assert Issuances.of(daemon).nothing_issued_since(before)
    after = sample(daemon, "spiffebind_tokens_issued_total", result="deny", reason=reason)
    assert after == denied + 1
    last = [e for e in audit_events(daemon) if e["event"] == "issue"][-1]
    assert (last["decision"], last["reason"]) == ("deny", reason)


def test_replayed_proof_issues_once(
    daemon: DaemonProcess, agents: Agents, stub: spiffebind_pb2_grpc.TokenServiceStub
) -> None:
    proof = agents.a.issue_proof(daemon.spiffe_id, "replay-1")
    issue(stub, proof)
    before = Issuances.of(daemon)

    code, reason = failure(lambda: issue(stub, proof))

    assert (code, reason) == (grpc.StatusCode.UNAUTHENTICATED, "replayed")
    assert Issuances.of(daemon).nothing_issued_since(before)
