"""Each outcome moves exactly one metric series and writes exactly one audit event."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from prometheus_client import CollectorRegistry

from spiffebind.errors import AuditError, Reason, RequestRejected, TokenRejected
from spiffebind.identity.source import Identity
from spiffebind.observe.audit import AuditLog, MemorySink
from spiffebind.observe.decisions import (
    DENIED_BURST,
    DENIED_PER_SECOND,
    CallContext,
    Decisions,
    dropped_authorities,
)
from spiffebind.observe.metrics import Metrics
from spiffebind.policy import Decision
from spiffebind.service.issuance import Issued
from spiffebind.service.params import IssueParams
from spiffebind.service.revocation import Revoked
from spiffebind.testing.pki import Authority
from spiffebind.token import SignedRequest, VerifiedToken, mint
from spiffebind.token.jose import b64url_encode
from spiffebind.token.svid import SigningIdentity

DIGEST = "ab" * 32
SIGNER = "spiffe://example.org/spiffebind/node-1"
AGENT = "spiffe://example.org/agents/planner"
USER = "spiffe://example.org/users/alice"
SEARCH = "spiffe://example.org/tools/search"
EMPTY: dict[str, Any] = {
    "reason": "",
    "rule": "",
    "client_id": "",
    "sub": "",
    "act": [],
    "aud": [],
    "scope": "",
    "txn": "",
    "jti": "",
    "signer": "",
    "method": "",
    "path": "",
    "tool": "",
    "peer_x5t": "",
    "latency": None,
}
Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class Harness:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.sink = MemorySink()
        self.audit = AuditLog(self.sink, required=True)
        self.decisions = Decisions(Metrics(self.registry), self.audit, lambda: DIGEST)

    def counters(self) -> Series:
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in self.registry.collect()
            if family.type == "counter"
            for s in family.samples
            if s.name.endswith("_total")
        }

    def moved(self, action: Callable[[], object]) -> Series:
        """The counter series ``action`` changed, by how much."""
        before = self.counters()
        action()
        after = self.counters()
        return {k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k, 0.0)}

    def event(self) -> dict[str, Any]:
        """The one event written so far, without the chain fields."""
        [event] = self.sink.events()
        for key in ("v", "time", "prev"):
            event.pop(key)
        return event


def series(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


@pytest.fixture
def harness() -> Harness:
    return Harness()


@pytest.fixture(scope="module")
def pki() -> tuple[Authority, SigningIdentity, Any]:
    ca = Authority.root("example.org")
    signer = ca.issue(SIGNER)
    agent = ca.issue(AGENT)
    return ca, SigningIdentity(tuple(signer.chain), signer.key), agent


@pytest.fixture
def issued(pki: tuple[Authority, SigningIdentity, Any]) -> Issued:
    _, signer, agent = pki
    minted = mint(
        signer,
        agent_cert=agent.cert,
        audiences=[SEARCH],
        scopes=["search:read"],
        ttl=300,
        max_ttl=600,
        now=time.time(),
        txn="task-42",
    )
    params = IssueParams((SEARCH,), ("search:read",), None, "task-42", ())
    request = SignedRequest(AGENT, agent.cert, tuple(agent.chain), {}, "req-1", int(time.time()))
    decision = Decision(True, "agents-search", 300, "", ("search:read",))
    return Issued(minted, request, params, decision)


def test_an_issued_token_counts_one_allow_and_audits_its_claims_not_itself(
    harness: Harness, issued: Issued
) -> None:
    moved = harness.moved(lambda: harness.decisions.issued(issued, 0.0123456789))

    assert moved == {series("spiffebind_tokens_issued_total", result="allow", reason=""): 1.0}
    claims = issued.minted.claims
    assert harness.event() == {
        **EMPTY,
        "event": "issue",
        "decision": "allow",
        "rule": "agents-search",
        "policy_digest": DIGEST,
        "client_id": AGENT,
        "sub": AGENT,
        "aud": [SEARCH],
        "scope": "search:read",
        "txn": "task-42",
        "jti": claims["jti"],
        "signer": SIGNER,
        "latency": 0.012346,
    }
    line = harness.sink.lines[0].decode()
    assert issued.minted.token.rsplit(".", 1)[1] not in line
    assert "eyJ" not in line


def test_a_refused_issuance_counts_its_reason(harness: Harness) -> None:
    refusal = RequestRejected(Reason.POLICY_DENIED, "no rule")
    moved = harness.moved(lambda: harness.decisions.issue_refused(refusal, 0.5))

    assert moved == {
        series("spiffebind_tokens_issued_total", result="deny", reason="policy_denied"): 1.0
    }
    assert harness.event() == {
        **EMPTY,
        "event": "issue",
        "decision": "deny",
        "reason": "policy_denied",
        "policy_digest": DIGEST,
        "latency": 0.5,
    }


def test_a_verified_token_audits_the_call_the_chain_and_the_presenter(
    harness: Harness, issued: Issued, pki: tuple[Authority, SigningIdentity, Any]
) -> None:
    agent = pki[2]
    claims = {**issued.minted.claims, "sub": USER, "act": {"sub": AGENT}}
    verified = VerifiedToken(claims, (USER, AGENT), SIGNER)
    call = CallContext(method="GET", path="/search", tool="web_search")
    peer = [c.public_bytes(serialization.Encoding.DER) for c in agent.chain]

    moved = harness.moved(lambda: harness.decisions.verified(verified, call, peer, 0.001))

    assert moved == {series("spiffebind_token_verifications_total", result="allow", reason=""): 1.0}
    assert harness.event() == {
        **EMPTY,
        "event": "verify",
        "decision": "allow",
        "policy_digest": DIGEST,
        "client_id": AGENT,
        "sub": USER,
        "act": [AGENT],
        "aud": [SEARCH],
        "scope": "search:read",
        "txn": "task-42",
        "jti": claims["jti"],
        "signer": SIGNER,
        "method": "GET",
        "path": "/search",
        "tool": "web_search",
        "peer_x5t": b64url_encode(hashlib.sha256(peer[0]).digest()),
        "latency": 0.001,
    }


@pytest.mark.parametrize(
    "reason", [Reason.BINDING_MISMATCH, Reason.AUDIENCE_MISMATCH, Reason.INSUFFICIENT_SCOPE]
)
def test_a_refused_verification_counts_its_reason(harness: Harness, reason: Reason) -> None:
    call = CallContext(tool="web_search")
    refusal = TokenRejected(reason, "no")

    moved = harness.moved(lambda: harness.decisions.verify_refused(refusal, call, [], 0.002))

    assert moved == {
        series("spiffebind_token_verifications_total", result="deny", reason=reason.value): 1.0
    }
    assert harness.event() == {
        **EMPTY,
        "event": "verify",
        "decision": "deny",
        "reason": reason.value,
        "policy_digest": DIGEST,
        "tool": "web_search",
        "latency": 0.002,
    }


def test_introspection_is_audited_but_not_counted(harness: Harness, issued: Issued) -> None:
    verified = VerifiedToken(issued.minted.claims, (AGENT,), SIGNER)
    moved = harness.moved(
        lambda: (
            harness.decisions.introspected(verified, None),
            harness.decisions.introspected(None, TokenRejected(Reason.EXPIRED, "old")),
        )
    )

    assert moved == {}
    allow, deny = harness.sink.events()
    assert (allow["event"], allow["decision"], allow["jti"]) == (
        "introspect",
        "allow",
        issued.minted.claims["jti"],
    )
    assert (deny["event"], deny["decision"], deny["reason"]) == ("introspect", "deny", "expired")


@pytest.mark.parametrize(
    ("jti", "txn", "newly", "invalidated"),
    [
        (
            "tok-1",
            None,
            True,
            {series("spiffebind_tokens_invalidated_total", cause="revocation"): 1.0},
        ),
        (
            None,
            "task-42",
            True,
            {series("spiffebind_tokens_invalidated_total", cause="task_end"): 1.0},
        ),
        ("tok-1", None, False, {}),
        (None, "task-42", False, {}),
    ],
)
def test_a_revocation_counts_its_kind_and_invalidates_only_when_new(
    harness: Harness, jti: str | None, txn: str | None, newly: bool, invalidated: Series
) -> None:
    revoked = Revoked(AGENT, jti, txn, 1e9, newly)

    moved = harness.moved(lambda: harness.decisions.revoked(revoked))

    kind = "jti" if jti else "txn"
    assert moved == {series("spiffebind_revocations_total", kind=kind): 1.0, **invalidated}
    assert harness.event() == {
        **EMPTY,
        "event": "revoke",
        "decision": "allow",
        "policy_digest": DIGEST,
        "client_id": AGENT,
        "jti": jti or "",
        "txn": txn or "",
    }


def test_a_refused_revocation_is_audited_not_counted(harness: Harness) -> None:
    refusal = RequestRejected(Reason.POLICY_DENIED, "not yours")
    assert harness.moved(lambda: harness.decisions.revoke_refused(refusal)) == {}
    assert harness.event() == {
        **EMPTY,
        "event": "revoke",
        "decision": "deny",
        "reason": "policy_denied",
        "policy_digest": DIGEST,
    }


def test_a_decision_that_cannot_be_recorded_is_not_counted(
    harness: Harness, issued: Issued
) -> None:
    harness.sink.fail = True
    before = harness.counters()
    with pytest.raises(AuditError):
        harness.decisions.issued(issued, 0.1)
    assert harness.counters() == before


def test_without_an_audit_log_decisions_are_still_counted(issued: Issued) -> None:
    registry = CollectorRegistry()
    Decisions(Metrics(registry), None, lambda: DIGEST).issued(issued, 0.1)
    sample = {"result": "allow", "reason": ""}
    assert registry.get_sample_value("spiffebind_tokens_issued_total", sample) == 1.0


def _identity(ca: Authority, *, extra_roots: tuple[Any, ...] = ()) -> Identity:
    svid = ca.issue(SIGNER)
    bundles = {"example.org": (ca.root_cert, *extra_roots)}
    return Identity(chain=tuple(svid.chain), private_key=svid.key, x509_bundles=bundles)


def test_identity_updates_count_rotations_and_dropped_authorities(harness: Harness) -> None:
    ca, old_root = Authority.root("example.org"), Authority.root("example.org").root_cert
    first = _identity(ca, extra_roots=(old_root,))
    jwt_only = replace(first, jwt_bundles={"example.org": {}})
    rotated = _identity(ca)  # new leaf, and the old root is gone from the bundle
    decisions = harness.decisions
    gauge = "spiffebind_svid_expiry_timestamp_seconds"

    answers: list[bool] = []

    def update(previous: Identity | None, current: Identity) -> Callable[[], None]:
        return lambda: answers.append(decisions.identity_changed(previous, current))

    assert harness.moved(update(None, first)) == {}
    assert harness.registry.get_sample_value(gauge) == first.not_after
    assert harness.moved(update(first, jwt_only)) == {}, "a bundle-only update is no rotation"
    assert harness.moved(update(jwt_only, rotated)) == {
        series("spiffebind_svid_rotations_total"): 1.0,
        series("spiffebind_tokens_invalidated_total", cause="rotation"): 1.0,
    }
    assert answers == [False, False, True]
    assert harness.registry.get_sample_value(gauge) == rotated.not_after
    assert harness.sink.events() == [], "the daemon records the rotation event itself"


def test_dropped_authorities_counts_each_removed_root_per_domain() -> None:
    a, b, c = (Authority.root(td).root_cert for td in ("example.org", "example.org", "other.org"))
    assert dropped_authorities({"example.org": (a, b)}, {"example.org": (b,)}) == 1
    assert dropped_authorities({"example.org": (a,), "other.org": (c,)}, {}) == 2
    assert dropped_authorities({"example.org": (a,)}, {"example.org": (b, a)}) == 0


def test_a_refusal_names_the_caller_and_what_it_asked(harness: Harness) -> None:
    refusal = RequestRejected(Reason.POLICY_DENIED, "no rule")
    refusal.asked = {"client_id": AGENT, "aud": [SEARCH], "scope": "x:y", "txn": "t", "jti": ""}
    harness.decisions.revoke_refused(refusal)
    event = harness.event()
    assert (event["client_id"], event["aud"], event["scope"], event["txn"]) == (
        AGENT,
        [SEARCH],
        "x:y",
        "t",
    )


def test_unauthenticated_refusals_write_bounded_lines_at_a_bounded_rate() -> None:
    # Issue 15 item 7: each refused VerifyToken wrote about 6.5 KB, every call.
    now = [0.0]
    sink = MemorySink()
    registry = CollectorRegistry()
    decisions = Decisions(Metrics(registry), AuditLog(sink), lambda: DIGEST, clock=lambda: now[0])
    call = CallContext(method="M" * 4000, path="/" * 20000, tool="t" * 20000)
    refusal = TokenRejected(Reason.MALFORMED, "")
    for _ in range(DENIED_BURST + 50):
        decisions.verify_refused(refusal, call, [b"x" * 100_000], 0.001)
    now[0] = 1.0
    for _ in range(50):
        decisions.verify_refused(refusal, call, [], 0.001)
    dropped = registry.get_sample_value("spiffebind_audit_events_dropped_total")
    denied = registry.get_sample_value(
        "spiffebind_token_verifications_total", {"result": "deny", "reason": "malformed"}
    )
    assert (len(sink.lines), dropped, denied) == (DENIED_BURST + DENIED_PER_SECOND, 80, 300)
    assert max(len(line) for line in sink.lines) < 1024
    event = sink.events()[0]
    assert (len(event["method"]), len(event["path"]), len(event["tool"])) == (16, 256, 64)


def test_allowed_verifications_are_never_dropped(harness: Harness) -> None:
    refusal = TokenRejected(Reason.MALFORMED, "")
    for _ in range(DENIED_BURST + 1):
        harness.decisions.verify_refused(refusal, CallContext(), [], 0.001)
    verified = VerifiedToken({"client_id": AGENT, "aud": SEARCH}, (AGENT,), SIGNER)
    harness.decisions.verified(verified, CallContext(), [], 0.001)
    assert harness.registry.get_sample_value("spiffebind_audit_events_dropped_total") == 1
    assert [e["decision"] for e in harness.sink.events()][-2:] == ["deny", "allow"]
