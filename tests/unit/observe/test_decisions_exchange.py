"""An exchange moves one series of spiffebind_token_exchanges_total and writes one audit
event with the new token's chain; the subject token never reaches the trail."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry

from spiffebind.errors import ExchangeRejected, OAuthError, Reason, UpstreamUnavailable
from spiffebind.observe.audit import AuditLog, MemorySink
from spiffebind.observe.decisions import Decisions
from spiffebind.observe.metrics import Metrics
from spiffebind.policy import Decision
from spiffebind.service.exchange import Exchanged
from spiffebind.service.params import ExchangeParams
from spiffebind.testing.pki import Authority
from spiffebind.token import SignedRequest, SigningIdentity, mint
from spiffebind.wire import ACCESS_TOKEN_TYPE

SIGNER = "spiffe://example.org/spiffebind/node-1"
PLANNER = "spiffe://example.org/agents/planner"
RESEARCH = "spiffe://example.org/agents/research"
USER = "spiffe://example.org/users/alice"
SEARCH = "spiffe://example.org/tools/search"


def _harness() -> tuple[Decisions, CollectorRegistry, MemorySink]:
    registry, sink = CollectorRegistry(), MemorySink()
    decisions = Decisions(Metrics(registry), AuditLog(sink, required=True), lambda: "ab" * 32)
    return decisions, registry, sink


def _count(registry: CollectorRegistry, **labels: str) -> float:
    return registry.get_sample_value("spiffebind_token_exchanges_total", labels) or 0.0


def test_an_exchange_is_counted_and_audited_with_its_chain() -> None:
    decisions, registry, sink = _harness()
    ca = Authority.root("example.org")
    signer, research = ca.issue(SIGNER), ca.issue(RESEARCH)
    minted = mint(
        SigningIdentity(tuple(signer.chain), signer.key),
        agent_cert=research.cert,
        audiences=[SEARCH],
        scopes=["search:read"],
        ttl=300,
        max_ttl=600,
        now=time.time(),
        txn="task-1",
        subject=USER,
        actors=[RESEARCH, PLANNER],
    )
    exchanged = Exchanged(
        minted=minted,
        request=SignedRequest(RESEARCH, research.cert, (), {}, "req-1", int(time.time())),
        params=ExchangeParams("x" * 43, ACCESS_TOKEN_TYPE, (SEARCH,), None, None, None, None, None),
        decision=Decision(True, "research-for-planner", 300, "", ("search:read",)),
        kind="delegation",
        chain=(USER, RESEARCH, PLANNER),
    )
    decisions.exchanged(exchanged, 0.01)
    assert _count(registry, result="allow", reason="", subject="delegation") == 1.0
    [event] = sink.events()
    assert (event["event"], event["decision"], event["rule"]) == (
        "exchange",
        "allow",
        "research-for-planner",
    )
    assert (event["sub"], event["client_id"], event["act"]) == (USER, RESEARCH, [RESEARCH, PLANNER])


def test_refusals_and_unreachable_issuers() -> None:
    decisions, registry, sink = _harness()
    refused = ExchangeRejected(Reason.INSUFFICIENT_SCOPE, "x", oauth=OAuthError.INVALID_SCOPE)
    decisions.exchange_refused(refused, 0.01)
    decisions.exchange_refused(UpstreamUnavailable("http://127.0.0.1:1/jwks is unreachable"), 1.0)
    assert _count(registry, result="deny", reason="insufficient_scope", subject="") == 1.0
    assert _count(registry, result="error", reason="", subject="upstream") == 1.0
    first, second = sink.events()
    assert (first["decision"], first["reason"]) == ("deny", "insufficient_scope")
    assert (second["decision"], second["reason"]) == ("error", "upstream_unavailable")
