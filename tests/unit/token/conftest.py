from __future__ import annotations

import dataclasses

import pytest
from tokenkit import NOW, World

from spiffebind.testing.clock import ManualClock


@pytest.fixture(scope="session")
def pki() -> World:
    return World.build()


@pytest.fixture
def world(pki: World) -> World:
    """The session's PKI with a fresh clock at NOW for each test."""
    return dataclasses.replace(pki, clock=ManualClock(NOW))
