"""Stop signals for the sandbox and the demo: the first one stops, none cuts the clean-up."""

from __future__ import annotations

import os
import signal

import pytest

from spiffebind.testing.spirebed import Stopped, StopSignals


def test_first_signal_raises_stopped_and_a_second_one_does_not() -> None:
    with StopSignals() as signals:
        with pytest.raises(Stopped) as stopped:
            os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)

    assert stopped.value.signum == signal.SIGTERM
    assert signals.received == signal.SIGTERM


def test_signal_during_clean_up_is_remembered_not_raised() -> None:
    with StopSignals() as signals:
        with signals.held_on_exit():
            pass
        os.kill(os.getpid(), signal.SIGINT)

    assert signals.received == signal.SIGINT


def test_handlers_are_restored_on_exit() -> None:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)

    with StopSignals():
        assert signal.getsignal(signal.SIGINT) not in before

    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
