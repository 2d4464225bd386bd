"""The curated surface of spiffebind.testing: every export exists, nothing public is unlisted."""

from __future__ import annotations

import types

import spiffebind.testing as package


def test_exports_are_honest() -> None:
    public = {
        name
        for name, value in vars(package).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(package.__all__)
    assert package.__all__ == sorted(package.__all__)
