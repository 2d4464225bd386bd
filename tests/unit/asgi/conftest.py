from __future__ import annotations

import pytest

from spiffebind.testing.attacks import InProcess, in_process


@pytest.fixture(scope="session")
def world() -> InProcess:
    return in_process()
