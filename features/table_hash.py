"""A table's content hash: what MLflow runs of one training job share (their `thinfile.data_hash` tag)."""

from __future__ import annotations

import hashlib

import pandas as pd
import pyarrow as pa


def data_hash(frame: pd.DataFrame) -> str:
    """Content hash of a table: column names, types and values, row order included (sha256 of its Arrow buffers)."""
    h = hashlib.sha256(",".join(map(str, frame.columns)).encode())
    for j in range(frame.shape[1]):
        for array in _arrow_arrays(frame.iloc[:, j]):
            h.update(str(array.type).encode())
            for part in (array, array.dictionary) if isinstance(array, pa.DictionaryArray) else (array,):
                for buffer in part.buffers():
                    if buffer is not None:
                        h.update(buffer)
    return h.hexdigest()[:16]


def _arrow_arrays(column: pd.Series) -> list[pa.Array]:
    """A column as Arrow arrays (mixed-type text columns as their text)."""
    try:
        converted = pa.array(column, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        converted = pa.array(column.astype(str), from_pandas=True)
    arrays = converted.chunks if isinstance(converted, pa.ChunkedArray) else [converted]
    return [pa.concat_arrays([a]) if a.offset else a for a in arrays]  # a slice's buffers hold more than its rows
