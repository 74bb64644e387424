"""The count of row groups a Parquet file declares, read from the start of its footer alone.

pyarrow parses a footer whole before it says anything of it: every row group's metadata, about 1 KB a column each
(a file of 20,000 one-row groups of 54 columns: 1.1 GiB and 2 s). The footer is Thrift's compact protocol; its
`FileMetaData` holds the version (field 1), the schema (2), the row count (3), then the row groups' list (4), whose
header states its length. Only the schema is skipped to reach it.
"""

from __future__ import annotations

from pathlib import Path

_MAGIC = b"PAR1"
_HEAD_BYTES = 1 << 20
"""Footer bytes read first: the schema of some 20,000 columns. A longer schema is read with the whole footer."""
_ROW_GROUPS_FIELD = 4
_STOP, _TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT, _UUID = range(14)
_FIXED = {_TRUE: 0, _FALSE: 0, _BYTE: 1, _DOUBLE: 8, _UUID: 16}


class _Unreadable(ValueError):
    """The bytes are not a footer this reader follows."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """(value, next position) of an unsigned LEB128 integer at `pos`."""
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise _Unreadable("varint longer than 64 bits")


def _list_header(buf: bytes, pos: int) -> tuple[int, int, int]:
    """(element count, element type, next position) of a list or set header."""
    byte = buf[pos]
    size, kind, pos = byte >> 4, byte & 0x0F, pos + 1
    if size == 0x0F:
        size, pos = _varint(buf, pos)
    return size, kind, pos


def _skip(buf: bytes, pos: int, kind: int, in_list: bool = False) -> int:
    """The position after a value of compact type `kind` at `pos` (a boolean in a list takes one byte)."""
    if kind in (_TRUE, _FALSE):
        return pos + 1 if in_list else pos
    if kind in _FIXED:
        return pos + _FIXED[kind]
    if kind in (_I16, _I32, _I64):
        return _varint(buf, pos)[1]
    if kind == _BINARY:
        size, pos = _varint(buf, pos)
        return pos + size
    if kind in (_LIST, _SET):
        size, element, pos = _list_header(buf, pos)
        for _ in range(size):
            pos = _skip(buf, pos, element, in_list=True)
        return pos
    if kind == _MAP:
        size, pos = _varint(buf, pos)
        if size:
            key, value, pos = buf[pos] >> 4, buf[pos] & 0x0F, pos + 1
            for _ in range(size):
                pos = _skip(buf, _skip(buf, pos, key, in_list=True), value, in_list=True)
        return pos
    if kind == _STRUCT:
        return _skip_struct(buf, pos)
    raise _Unreadable(f"unknown compact type {kind}")


def _skip_struct(buf: bytes, pos: int) -> int:
    """The position after the struct whose first field header is at `pos`."""
    while True:
        byte = buf[pos]
        pos += 1
        kind = byte & 0x0F
        if kind == _STOP:
            return pos
        if byte >> 4 == 0:
            pos = _varint(buf, pos)[1]
        pos = _skip(buf, pos, kind)


def row_groups_in_footer(footer: bytes) -> int:
    """The length of the row groups' list a serialised `FileMetaData` declares (IndexError: `footer` ends first)."""
    pos = field = 0
    while True:
        byte = footer[pos]
        pos += 1
        kind = byte & 0x0F
        if kind == _STOP:
            raise _Unreadable("no row groups' list")
        delta = byte >> 4
        if delta:
            field += delta
        else:
            zigzag, pos = _varint(footer, pos)
            field = (zigzag >> 1) ^ -(zigzag & 1)
        if field == _ROW_GROUPS_FIELD and kind == _LIST:
            return _list_header(footer, pos)[0]
        pos = _skip(footer, pos, kind)


def _footer(path: Path, most: int) -> bytes | None:
    """Up to `most` bytes from the start of the file's footer; None for a file that does not end as a plain
    (not encrypted) Parquet file."""
    with path.open("rb") as f:
        size = f.seek(0, 2)
        if size < 12:
            return None
        f.seek(size - 8)
        tail = f.read(8)
        length = int.from_bytes(tail[:4], "little")
        if tail[4:] != _MAGIC or length > size - 12:
            return None
        f.seek(size - 8 - length)
        return f.read(min(length, most))


def declared_row_groups(path: Path) -> int | None:
    """The count of row groups the Parquet file at `path` declares, read without parsing their metadata; None when
    its footer cannot be read so (pyarrow, reading it, then names what is wrong)."""
    for most in (_HEAD_BYTES, path.stat().st_size):
        footer = _footer(path, most)
        if footer is None:
            return None
        try:
            return row_groups_in_footer(footer)
        except _Unreadable:
            return None
        except IndexError:
            if len(footer) < most:
                return None
    return None
