"""Run the demo and the sandbox as real subprocesses (:mod:`childproc`), cleaned up after."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from childproc import Child, Start


@pytest.fixture
def child() -> Iterator[Start]:
    children: list[Child] = []

    def start(argv: Sequence[str]) -> Child:
        children.append(Child(argv))
        return children[-1]

    yield start
    for started in children:
        started.clean_up()
