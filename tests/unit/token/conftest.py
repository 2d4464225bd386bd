from __future__ import annotations

import dataclasses

import pytest
from tokenkit import FixedClock, World


@pytest.fixture(scope="session")
def pki() -> World:
    return World.build()


@pytest.fixture
def world(pki: World) -> World:
    """The session's PKI with a fresh clock at NOW for each test."""
    return dataclasses.replace(pki, clock=FixedClock())
