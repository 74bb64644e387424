"""A table's content hash: what MLflow runs of one training job share (their `thinfile.data_hash` tag)."""

from __future__ import annotations

import contextlib
import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa


def data_hash(frame: pd.DataFrame) -> str:
    """Content hash of a table: column names, types and values, row order included (sha256 of its Arrow buffers,
    with each null's place hashed apart from whatever its slot holds: equal tables hash alike however they were
    read)."""
    h = hashlib.sha256(",".join(map(str, frame.columns)).encode())
    for j in range(frame.shape[1]):
        for array in _arrow_arrays(frame.iloc[:, j]):
            h.update(str(array.type).encode())
            for part in (array.indices, array.dictionary) if isinstance(array, pa.DictionaryArray) else (array,):
                for buffer in _content(part):
                    h.update(buffer)
    return h.hexdigest()[:16]


_ROW_BLOCK = 65_536
_WEIGHTS_SEED = 20261130


def row_hashes(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """One uint64 per row of the model matrix `X` with its outcome `y`, in row order: a row hashes alike wherever it
    stands, whatever other columns its table holds and however it was read (the matrix holds values as the model
    reads them; -0.0 as 0.0, every NaN alike). Each value's 64 bits are mixed by splitmix64's finaliser and the
    columns summed under fixed odd weights (mod 2^64), a block of rows at a time: about 0.3 s for a million rows of
    50 columns, where pandas' hash of the same frame takes ten times as long."""
    columns = X.shape[1] + 1
    weights = np.random.default_rng(_WEIGHTS_SEED).integers(1, 2**63, columns, dtype=np.uint64) | np.uint64(1)
    out = np.empty(len(X), dtype=np.uint64)
    for a in range(0, len(X), _ROW_BLOCK):
        block = np.column_stack([X[a : a + _ROW_BLOCK], y[a : a + _ROW_BLOCK]]).astype(np.float64) + 0.0
        block[np.isnan(block)] = np.nan
        z = block.view(np.uint64)
        z ^= z >> np.uint64(30)
        z *= np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(27)
        z *= np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
        out[a : a + _ROW_BLOCK] = (z * weights).sum(axis=1, dtype=np.uint64)
    return out


def data_hash_as_before(frame: pd.DataFrame) -> str:
    """The hash training runs recorded before nulls were hashed apart (`thinfile.data_hash` of a model trained until
    2026-11-29): its Arrow buffers as they are, so that such a model still knows its training table."""
    h = hashlib.sha256(",".join(map(str, frame.columns)).encode())
    for j in range(frame.shape[1]):
        for array in _arrow_arrays(frame.iloc[:, j]):
            h.update(str(array.type).encode())
            for part in (array, array.dictionary) if isinstance(array, pa.DictionaryArray) else (array,):
                for buffer in part.buffers():
                    if buffer is not None:
                        h.update(buffer)
    return h.hexdigest()[:16]


def _content(array: pa.Array) -> list[bytes | pa.Buffer]:
    """What an array holds: its values, and where it holds nulls (a null's slot may hold anything, a reader's
    leftovers, and a bit array's last byte unused bits, so both are written afresh)."""
    out: list[bytes | pa.Buffer] = []
    if array.null_count:
        out.append(np.packbits(array.is_null().to_numpy(zero_copy_only=False)).tobytes())
        with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):  # no zero: as is
            array = array.fill_null(pa.scalar(False if pa.types.is_boolean(array.type) else 0).cast(array.type))
    if pa.types.is_boolean(array.type):
        return [*out, np.packbits(array.to_numpy(zero_copy_only=False)).tobytes()]
    return [*out, *(b for b in array.buffers() if b is not None)]


def _arrow_arrays(column: pd.Series) -> list[pa.Array]:
    """A column as Arrow arrays (mixed-type text columns as their text)."""
    try:
        converted = pa.array(column, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        converted = pa.array(column.astype(str), from_pandas=True)
    arrays = converted.chunks if isinstance(converted, pa.ChunkedArray) else [converted]
    return [pa.concat_arrays([a]) if a.offset else a for a in arrays]  # a slice's buffers hold more than its rows
