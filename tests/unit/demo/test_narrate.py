"""The demo's checks: a step that goes as narrated says so, one that does not stops the demo."""

from __future__ import annotations

import io

import pytest

from spiffebind.demo.narrate import Narrator
from spiffebind.errors import DemoFailed


def test_steps_are_numbered_and_checks_say_ok() -> None:
    out = io.StringIO()
    n = Narrator(out)

    n.step("first")
    n.step("second")
    n.check(True, "it worked")

    assert out.getvalue() == "\nStep 1. first\n\nStep 2. second\n    ok: it worked\n"


def test_failed_check_says_what_happened_and_raises() -> None:
    out = io.StringIO()

    with pytest.raises(DemoFailed, match="expected 401, got 200"):
        Narrator(out).check(False, "401", "200")

    assert "NOT AS EXPECTED: 401; got 200" in out.getvalue()
