"""Shared pieces for identity tests: a settable clock, a CA, and the fake Workload API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from spiffebind.testing.clock import ManualClock
from spiffebind.testing.fake_workload_api import FakeWorkloadApi
from spiffebind.testing.pki import Authority


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def ca() -> Authority:
    return Authority.root("example.org")


@pytest.fixture
def api() -> Iterator[FakeWorkloadApi]:
    with FakeWorkloadApi() as server:
        yield server
