"""Shared fixtures for the token tests: the fixed-time PKI and forger of spiffebind.testing.forge.

They live in the package so the security suites (tests/security, tests/integration/security)
build their negative fixtures from the same baseline; this module keeps the short import.
"""

from __future__ import annotations

from spiffebind.testing.forge import (
    AGENT_ID,
    DROP,
    ISSUERS,
    NOW,
    SERVICE_ID,
    SIGNER_ID,
    TD,
    World,
    b64u,
    der,
    raw_sign,
    seg,
    x5c,
    x5t,
)

__all__ = [
    "AGENT_ID",
    "DROP",
    "ISSUERS",
    "NOW",
    "SERVICE_ID",
    "SIGNER_ID",
    "TD",
    "World",
    "b64u",
    "der",
    "raw_sign",
    "seg",
    "x5c",
    "x5t",
]
