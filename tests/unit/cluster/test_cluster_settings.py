"""Cluster options: none is node-local mode; each bad value is a ConfigError naming it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from spiffebind.cluster.settings import DEFAULT_BUCKET, cluster_settings
from spiffebind.errors import ConfigError

BASE: dict[str, Any] = {
    "urls": ("nats://127.0.0.1:4222",),
    "bucket": DEFAULT_BUCKET,
    "replicas": 1,
    "tls": False,
    "ca": None,
    "creds": None,
    "stale_after": 30.0,
    "fail_open": False,
    "ack_timeout": 2.0,
}


def test_no_url_is_node_local_mode() -> None:
    assert cluster_settings(**{**BASE, "urls": ()}) is None


def test_tls_url_turns_tls_on() -> None:
    settings = cluster_settings(**{**BASE, "urls": ("tls://nats.example:4222",)})
    assert settings is not None
    assert settings.tls


@pytest.mark.parametrize(
    ("change", "culprit"),
    [
        ({"urls": ("http://nats:4222",)}, "--cluster-url"),
        ({"urls": ("nats://nats",)}, "--cluster-url"),
        ({"urls": ("nats://nats:99999",)}, "--cluster-url"),
        ({"urls": ("nats://nats:4222/path",)}, "--cluster-url"),
        ({"bucket": "has.dot"}, "--cluster-bucket"),
        ({"replicas": 0}, "--cluster-replicas"),
        ({"replicas": 7}, "--cluster-replicas"),
        ({"stale_after": 0.0}, "--cluster-stale-after"),
        ({"ack_timeout": -1.0}, "--cluster-ack-timeout"),
        ({"ca": Path("/nonexistent/ca.pem")}, "--cluster-ca"),
        ({"tls": True, "ca": Path("/nonexistent/ca.pem")}, "--cluster-ca"),
        ({"creds": Path("/nonexistent/x.creds")}, "--cluster-creds"),
    ],
)
def test_bad_values_name_their_option(change: dict[str, Any], culprit: str) -> None:
    with pytest.raises(ConfigError, match=culprit):
        cluster_settings(**{**BASE, **change})
