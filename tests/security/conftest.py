from __future__ import annotations

import pytest

from spiffebind.testing.attacks import InProcess, in_process


@pytest.fixture(scope="session")
def world() -> InProcess:
    """The in-process world of the attack corpus, built once (keys are slow to make)."""
    return in_process()
