from __future__ import annotations

import pytest
from ext_authz_kit import Kit


@pytest.fixture(scope="module")
def kit() -> Kit:
    """The ext_authz tests' fixed-time world, built once per module (keys are slow to make)."""
    return Kit.build()
