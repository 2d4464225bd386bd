"""The curated surface of spiffebind.token: every export exists, nothing public is unlisted."""

from __future__ import annotations
import __future__

import types

import spiffebind.token as package


def test_exports_are_honest() -> None:
    public = {
        name
        for name, value in vars(package).items()
        if not name.startswith("_")
        and not isinstance(value, (types.ModuleType, __future__._Feature))
    }
    assert public == set(package.__all__)
    assert len(package.__all__) == len(set(package.__all__))
