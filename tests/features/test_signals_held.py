"""Signals held back during work that must not be cut half-way arrive, once, when it ends. The tests raise them in
the main thread (`signal.raise_signal`): `os.kill` lets the kernel hand a process signal to any of the threads
earlier tests left running, and its handler then runs in the main thread only when that thread next checks."""

from __future__ import annotations

import signal

import pytest

from thinfile.features.lifetime import signals_held


def test_ctrl_c_inside_the_block_is_raised_after_it() -> None:
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


def test_a_second_ctrl_c_is_not_held() -> None:
    reached = False
    with pytest.raises(KeyboardInterrupt), signals_held(signal.SIGINT):
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGINT)
        reached = True
    assert not reached
