"""The nats-server fixtures: a lone JetStream server and a three-server cluster that keeps
accepting replicated writes when one server dies."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import nats
import nats.errors
import pytest
from nats.js.api import KeyValueConfig

from spiffebind.testing.nats import NatsCluster
from spiffebind.testing.poll import wait_for

pytestmark = pytest.mark.integration
T = TypeVar("T")


async def _until_answered(request: Callable[[], Awaitable[T]], timeout: float) -> T:
    """A JetStream request, asked again while nobody answers it: a stream just created
    answers only once its replicas have elected a leader, and until then a request fails at
    once with "no responders" rather than waiting out its timeout."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await request()
        except nats.js.errors.NoStreamResponseError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)


async def _put_and_read(
    write_url: str, read_url: str, key: str, replicas: int, timeout: float = 30
) -> bytes:
    """``timeout`` per JetStream request: the first ones may wait for leaders to be elected."""
    writer = await nats.connect(write_url)
    reader = await nats.connect(read_url)
    try:
        js = writer.jetstream(timeout=timeout)
        try:
            kv = await js.key_value("fixture")
        except nats.js.errors.BucketNotFoundError:
            kv = await js.create_key_value(KeyValueConfig(bucket="fixture", replicas=replicas))
        await _until_answered(lambda: kv.put(key, key.encode()), timeout)
        read = await reader.jetstream(timeout=timeout).key_value("fixture")
        entry = await _until_answered(lambda: read.get(key), timeout)
        return bytes(entry.value or b"")
    finally:
        await writer.close()
        await reader.close()


def test_single_server_serves_jetstream_kv() -> None:
    with NatsCluster.start(1) as cluster:
        url = cluster.urls[0]
        assert asyncio.run(_put_and_read(url, url, "k1", 1)) == b"k1"
    assert not cluster.root.exists()


def test_three_server_cluster_replicates_and_survives_one_loss() -> None:
    with NatsCluster.start(3) as cluster:
        first, second, third = cluster.urls
        assert asyncio.run(_put_and_read(first, third, "k1", 3)) == b"k1"
        cluster.servers[0].kill()
        cluster.wait_ready()
        written = wait_for(  # the bucket's stream may be electing a new leader
            lambda: _attempt(second, third, "k2"), timeout=30, what="a write to the two left"
        )
        assert written == b"k2"


def _attempt(write_url: str, read_url: str, key: str) -> bytes | None:
    try:
        return asyncio.run(_put_and_read(write_url, read_url, key, 3, timeout=3))
    except nats.errors.Error:
        return None
