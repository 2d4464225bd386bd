"""The ``--cluster-*`` options of ``spiffebind run``, one grouped block (docs/cluster.md)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from spiffebind.cluster.settings import DEFAULT_BUCKET, ClusterSettings, cluster_settings

_OPTIONS = (
    click.option(
        "--cluster-url",
        multiple=True,
        envvar="SPIFFEBIND_CLUSTER_URL",
        show_envvar=True,
        help="NATS server (nats://HOST:PORT or tls://HOST:PORT); repeatable. Turns on "
        "cluster-wide revocation; without it the daemon is node-local.",
    ),
    click.option(
        "--cluster-bucket",
        default=DEFAULT_BUCKET,
        show_default=True,
        envvar="SPIFFEBIND_CLUSTER_BUCKET",
        show_envvar=True,
        help="JetStream key-value bucket of revocations; created if absent.",
    ),
    click.option(
        "--cluster-replicas",
        type=int,
        default=1,
        show_default=True,
        envvar="SPIFFEBIND_CLUSTER_REPLICAS",
        show_envvar=True,
        help="Replicas of a bucket this daemon creates (3 in production).",
    ),
    click.option(
        "--cluster-tls",
        is_flag=True,
        envvar="SPIFFEBIND_CLUSTER_TLS",
        show_envvar=True,
        help="TLS to NATS with this daemon's X.509-SVID as client certificate; the server is "
        "verified against the SPIFFE bundle, or --cluster-ca.",
    ),
    click.option(
        "--cluster-ca",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="SPIFFEBIND_CLUSTER_CA",
        show_envvar=True,
        help="PEM CA file that verifies the NATS servers (with their host names).",
    ),
    click.option(
        "--cluster-creds",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="SPIFFEBIND_CLUSTER_CREDS",
        show_envvar=True,
        help="NATS credentials file (user JWT and NKey seed).",
    ),
    click.option(
        "--cluster-stale-after",
        type=float,
        default=30.0,
        show_default=True,
        envvar="SPIFFEBIND_CLUSTER_STALE_AFTER",
        show_envvar=True,
        help="Seconds out of sync with the feed after which tokens are refused as "
        "revocation_unavailable.",
    ),
    click.option(
        "--cluster-fail-open",
        is_flag=True,
        envvar="SPIFFEBIND_CLUSTER_FAIL_OPEN",
        show_envvar=True,
        help="Past --cluster-stale-after, keep accepting tokens (logged and counted).",
    ),
    click.option(
        "--cluster-ack-timeout",
        type=float,
        default=2.0,
        show_default=True,
        envvar="SPIFFEBIND_CLUSTER_ACK_TIMEOUT",
        show_envvar=True,
        help="Seconds RevokeToken waits for the engine's acknowledgement.",
    ),
)


def cluster_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add every ``--cluster-*`` option to ``command``."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def settings_from(opts: dict[str, Any]) -> ClusterSettings | None:
    """The cluster settings from click's resolved values (None: node-local mode)."""
    return cluster_settings(
        urls=opts["cluster_url"],
        bucket=opts["cluster_bucket"],
        replicas=opts["cluster_replicas"],
        tls=opts["cluster_tls"],
        ca=opts["cluster_ca"],
        creds=opts["cluster_creds"],
        stale_after=opts["cluster_stale_after"],
        fail_open=opts["cluster_fail_open"],
        ack_timeout=opts["cluster_ack_timeout"],
    )
