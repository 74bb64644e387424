"""Signals held back during work that must not be cut half-way arrive, once, when it ends.

The Ctrl-C tests set Python's own SIGINT handler first: a process started in the background by a shell without job
control (`make test &`, say) starts with SIGINT ignored, and then the held Ctrl-C is rightly delivered to "ignore"."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from thinfile.features.lifetime import signals_held


@pytest.fixture
def ctrl_c_raises() -> Iterator[None]:
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_inside_the_block_is_raised_after_it(ctrl_c_raises: None) -> None:
    finished = False
    with pytest.raises(KeyboardInterrupt), signals_held(signal.SIGINT, signal.SIGTERM):
        signal.raise_signal(signal.SIGINT)
        finished = True
    assert finished


def test_the_previous_handlers_are_back_and_receive_the_held_signal() -> None:
    received: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda sig, frame: received.append(sig))
    try:
        with signals_held(signal.SIGTERM):
            signal.raise_signal(signal.SIGTERM)
            assert received == []
        assert received == [signal.SIGTERM]
        signal.raise_signal(signal.SIGTERM)
        assert received == [signal.SIGTERM, signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_second_ctrl_c_is_not_held(ctrl_c_raises: None) -> None:
    reached = False
    with pytest.raises(KeyboardInterrupt), signals_held(signal.SIGINT):
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGINT)
        reached = True
    assert not reached
