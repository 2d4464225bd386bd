"""The exposition obeys Prometheus naming rules; promtool is not available offline."""

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from spiffebind.observe.metrics import Metrics

ALLOWED_LABELS = {"method", "code", "result", "reason", "kind", "version", "le"}


def _families() -> list:
    registry = CollectorRegistry()
    Metrics(registry)
    return list(text_string_to_metric_families(generate_latest(registry).decode()))


def test_names_follow_conventions() -> None:
    for family in _families():
        assert family.name.startswith("spiffebind_"), family.name
        assert "_ms" not in family.name, family.name
        assert "milli" not in family.name, family.name
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples), family.name
        if "_seconds" in family.name:
            assert family.type in {"histogram", "gauge"}, family.name


def test_labels_come_from_a_closed_set() -> None:
    for family in _families():
        for sample in family.samples:
            assert set(sample.labels) <= ALLOWED_LABELS, (family.name, sample.labels)


def test_labelled_series_start_at_zero() -> None:
    registry = CollectorRegistry()
    Metrics(registry)
    value = registry.get_sample_value(
        "spiffebind_token_verifications_total", {"result": "deny", "reason": "binding_mismatch"}
    )
    assert value == 0.0
    assert registry.get_sample_value("spiffebind_build_info", {"version": "0.1.0"}) == 1.0
