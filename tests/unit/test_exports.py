"""Every curated package surface is honest: each export exists and nothing public is unlisted."""

from __future__ import annotations
import __future__

import importlib
import types

import pytest

PACKAGES = [
    "spiffebind",
    "spiffebind.asgi",
    "spiffebind.client",
    "spiffebind.identity",
    "spiffebind.mcp",
    "spiffebind.policy",
    "spiffebind.state",
    "spiffebind.testing",
    "spiffebind.testing.attacks",
    "spiffebind.token",
    "spiffebind.upstream",
    "spiffebind.verifier",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_exports_are_honest(name: str) -> None:
    package = importlib.import_module(name)
    public = {
        attr
        for attr, value in vars(package).items()
        if not attr.startswith("_")
        and not isinstance(value, types.ModuleType | __future__._Feature)
    }
    assert public == set(package.__all__) - {"__version__"}
    assert len(package.__all__) == len(set(package.__all__))
