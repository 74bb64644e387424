"""A table's content hash: what MLflow runs of one training job share (their `thinfile.data_hash` tag)."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence

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


def row_hashes(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """One uint64 per row of `frame` over `columns` (their values, not their names), sorted: a row hashes alike
    wherever it stands, whatever other columns its table holds and however the table was read (numbers and booleans
    as float64, any other value as its text, every missing value alike)."""
    normal = pd.DataFrame({j: _hashed_alike(frame[c]) for j, c in enumerate(columns)}, index=pd.RangeIndex(len(frame)))
    return np.sort(pd.util.hash_pandas_object(normal, index=False).to_numpy(dtype=np.uint64))


def _hashed_alike(column: pd.Series) -> np.ndarray:
    """A column as float64 (-0.0 as 0.0, any NaN as the one NaN) when it holds numbers or booleans, else as text
    with None where missing."""
    if pd.api.types.is_bool_dtype(column.dtype) or pd.api.types.is_numeric_dtype(column.dtype):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan) + 0.0
        values[np.isnan(values)] = np.nan
        return values
    present = column.notna().to_numpy()
    text = np.full(len(column), None, dtype=object)
    text[present] = column.to_numpy(dtype=object)[present].astype(str)
    return text


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
