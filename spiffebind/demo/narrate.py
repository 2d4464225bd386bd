"""Plain step-by-step narration on stdout, and the checks that make the demo a smoke test."""

from __future__ import annotations

import sys
from typing import TextIO

from spiffebind.errors import DemoFailed


class Narrator:
    def __init__(self, out: TextIO = sys.stdout) -> None:
        self._out = out
        self._step = 0

    def _print(self, text: str) -> None:
        print(text, file=self._out, flush=True)  # flushed: a pipe must see each line now

    def title(self, text: str) -> None:
        self._print(text)

    def step(self, text: str) -> None:
        self._step += 1
        self._print(f"\nStep {self._step}. {text}")

    def say(self, text: str, indent: int = 2) -> None:
        for line in text.splitlines() or [""]:
            self._print(" " * indent + line)

    def check(self, ok: bool, expected: str, got: str = "") -> None:
        """Say it went as expected, or raise DemoFailed saying what happened instead."""
        if not ok:
            self.fail(expected, got)
        self.say(f"ok: {expected}", indent=4)

    def fail(self, expected: str, got: str) -> None:
        self.say(f"NOT AS EXPECTED: {expected}; got {got}", indent=4)
        raise DemoFailed(f"expected {expected}, got {got}")
