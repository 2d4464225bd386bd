"""What the demo shows of the daemon's records: counters that moved, one line per event."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from spiffebind.demo.records import counters, describe, moved


def test_counters_keeps_spiffebind_totals_and_drops_empty_labels() -> None:
    registry = CollectorRegistry()
    decisions = Counter("spiffebind_decisions", "d", ["result", "reason"], registry=registry)
    decisions.labels(result="allow", reason="").inc()
    decisions.labels(result="deny", reason="revoked").inc(2)
    Counter("other_requests", "o", registry=registry).inc()
    Gauge("spiffebind_rules", "r", registry=registry).set(3)

    found = counters(generate_latest(registry).decode())

    assert found == {
        'spiffebind_decisions_total{result="allow"}': 1.0,
        'spiffebind_decisions_total{reason="revoked",result="deny"}': 2.0,
    }


def test_moved_lists_only_changed_series_new_ones_from_zero() -> None:
    before = {"a_total": 1.0, "b_total": 2.0}
    after = {"a_total": 1.0, "b_total": 3.0, "c_total": 1.0}

    assert moved(before, after) == {"b_total": (2.0, 3.0), "c_total": (0.0, 1.0)}


def test_describe_names_the_decision_who_and_the_task() -> None:
    event = {
        "time": "2026-11-28T18:00:36.123456Z",
        "event": "issue",
        "decision": "allow",
        "reason": "",
        "sub": "spiffe://example.org/agents/planner",
        "client_id": "spiffe://example.org/agents/planner",
        "signer": "",
        "txn": "demo-task-1",
    }
    denied = {**event, "event": "verify", "decision": "deny", "reason": "revoked", "sub": ""}
    denied.update(client_id="", txn="")

    assert describe(event).split() == [
        "18:00:36",
        "issue",
        "allow",
        "-",
        "spiffe://example.org/agents/planner",
        "txn=demo-task-1",
    ]
    assert describe(denied).split() == ["18:00:36", "verify", "deny", "revoked"]
