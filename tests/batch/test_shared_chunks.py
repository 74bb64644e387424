"""Chunks reach worker processes as shared in-memory files: whole, and never left behind."""

from __future__ import annotations

import os
import socket
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from thinfile.serving.batch.embedded import worker_context
from thinfile.serving.batch.worker import SharedChunk, can_share, release_untaken_chunks

pytestmark = pytest.mark.skipif(not can_share(), reason="no anonymous in-memory files here (memfd_create is Linux's)")


def _shared_files() -> int:
    fds = Path("/proc/self/fd")
    return sum("memfd:thinfile-chunk" in os.readlink(fd) for fd in fds.iterdir() if fd.is_symlink())


def test_a_shared_chunk_arrives_whole_in_a_worker_process(book: pd.DataFrame) -> None:
    table = pa.Table.from_pandas(book, preserve_index=False)
    with ProcessPoolExecutor(1, mp_context=worker_context()) as pool:
        arrived = pool.submit(SharedChunk(table).open).result()
    assert arrived.equals(table) and arrived.schema.equals(table.schema, check_metadata=True)


def test_a_chunk_no_worker_took_is_freed_when_the_job_stops(book: pd.DataFrame) -> None:
    before = _shared_files()
    chunk = SharedChunk(pa.Table.from_pandas(book.head(100), preserve_index=False))
    assert _shared_files() == before + 1
    release_untaken_chunks()
    assert _shared_files() == before
    del chunk


def test_a_reset_in_the_resource_sharer_prints_nothing_while_other_errors_still_show(capsys) -> None:
    from multiprocessing import resource_sharer

    from thinfile.serving.batch.worker import sharer_resets_quiet

    in_sharer = compile("raise ConnectionResetError(104, 'reset by a killed worker')", resource_sharer.__file__, "exec")
    elsewhere = compile("raise ConnectionResetError(104, 'reset elsewhere')", "elsewhere.py", "exec")
    with sharer_resets_quiet():
        for code in (in_sharer, elsewhere):
            try:
                exec(code)
            except ConnectionResetError:
                sys.excepthook(*sys.exc_info())
    err = capsys.readouterr().err
    assert "reset elsewhere" in err and "killed worker" not in err


def _hang_up_on_the_sharer(read_challenge: bool) -> None:
    """Act as a worker killed while taking a chunk: connect to the resource sharer and go away mid-handshake,
    after reading its challenge (it then reads an end of file) or with the challenge unread (a reset)."""
    from multiprocessing import resource_sharer

    sharer = resource_sharer._resource_sharer
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as peer:
        peer.connect(sharer._address)
        peer.settimeout(10)
        if read_challenge:
            peer.recv(4096)
        else:
            time.sleep(0.3)


@pytest.mark.parametrize("read_challenge", [True, False], ids=["end of file", "reset"])
def test_a_worker_hanging_up_on_the_resource_sharer_prints_nothing_and_the_sharer_goes_on(
    book: pd.DataFrame, capfd, read_challenge: bool
) -> None:
    from thinfile.serving.batch.worker import sharer_resets_quiet

    table = pa.Table.from_pandas(book.head(50), preserve_index=False)
    with sharer_resets_quiet():
        SharedChunk(table)
        _hang_up_on_the_sharer(read_challenge)
        time.sleep(0.5)
        with ProcessPoolExecutor(1, mp_context=worker_context()) as pool:
            arrived = pool.submit(SharedChunk(table).open).result()
    release_untaken_chunks()
    assert capfd.readouterr().err == ""
    assert arrived.equals(table)
