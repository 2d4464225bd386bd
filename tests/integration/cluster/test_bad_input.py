"""Acceptance: a bucket this daemon cannot use stops it with exit 2 and one line naming it;
an engine it cannot reach at boot leaves it running but not ready, saying why (docs/cluster.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import nats
import pytest
import yaml
from clusterkit import node_args
from nats.js.api import StreamConfig

from spiffebind.testing.agents import SEARCH_POLICY
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.nats import NatsCluster
from spiffebind.testing.poll import wait_for
from spiffebind.testing.ports import free_port
from spiffebind.testing.records import http_get
from spiffebind.testing.spire import SpireTestBed

pytestmark = pytest.mark.integration

LEGACY = "legacy"


@contextlib.contextmanager
def _daemon(spire: SpireTestBed, urls: list[str], *extra: str) -> Iterator[DaemonProcess]:
    process = DaemonProcess(spire, policy=SEARCH_POLICY, gid=1921, id_path="/spiffebind/node-x")
    config = process.root / "config.yaml"
    config.write_text(yaml.safe_dump({}))
    process.extra_args = (*node_args(urls, config), *extra)
    try:
        yield process
    finally:
        process.close()


async def _legacy_bucket(urls: list[str]) -> None:
    """A key-value bucket as nats-server < 2.11 made them: no per-message TTL."""
    client = await nats.connect(urls)
    try:
        await client.jetstream(timeout=30).add_stream(  # the first request may elect leaders
            StreamConfig(
                name=f"KV_{LEGACY}",
                subjects=[f"$KV.{LEGACY}.>"],
                max_msgs_per_subject=1,
                allow_rollup_hdrs=True,
                deny_delete=True,
            )
        )
    finally:
        await client.close()


def _last_line(log: str) -> str:
    return [line for line in log.splitlines() if line.strip()][-1]


def test_incompatible_bucket_is_exit_2_naming_it(spire: SpireTestBed, nats: NatsCluster) -> None:
    asyncio.run(_legacy_bucket(nats.urls))
    with _daemon(spire, nats.urls, "--cluster-bucket", LEGACY) as process:
        with contextlib.suppress(RuntimeError):  # it may exit before its socket answers
            process.start()
        proc = process.proc
        assert proc is not None
        wait_for(lambda: proc.poll() is not None, timeout=30, what="the daemon to exit")
        assert proc.returncode == 2
        line = _last_line(process.log())
        assert line.startswith("spiffebind: error: --cluster-bucket legacy:"), line
        assert "per-entry TTL" in line


def test_unreachable_engine_at_boot_is_not_ready_naming_it(spire: SpireTestBed) -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    with _daemon(spire, [url]) as process:
        process.start()
        status, body = http_get(process, "/readyz")
        assert status == 503
        assert "has not read bucket" in body
        wait_for(lambda: f"cannot reach {url}" in process.log(), timeout=10, what="the log line")
        assert process.proc is not None
        assert process.proc.poll() is None
