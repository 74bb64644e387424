"""Read and list tables: Parquet or CSV, one file or a folder of files (hive-partitioned included)."""

from __future__ import annotations

import os
import re
import stat
import urllib.parse
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from thinfile.features.settings import csv_encoding, parquet_max_footer_bytes
from thinfile.features.words import COMMA_SEPARATED

SUFFIXES = (".parquet", ".csv")


class WrongFields(NamedTuple):
    """A CSV row with another number of fields than the header: its row number (from 0, after the header) and
    the two counts. Never its text: that is an applicant's data."""

    row: int
    fields: int
    expected: int


class SkipWrongFields:
    """pyarrow's invalid-row handler: skips a row with the wrong number of fields, and when counting keeps where it
    was, up to `most` rows (pyarrow numbers rows from 1 with the header, and only when it reads without threads);
    past them, the read stops with pyarrow's error."""

    def __init__(self, keep: bool, most: int = 0) -> None:
        self.keep, self.most = keep, most
        self.rows: list[WrongFields] = []
        self.refused: WrongFields | None = None
        """the row past `most` at which the read was stopped"""
        self.run_on: tuple[WrongFields, int] | None = None
        """a row whose quote was left open, and the count of line ends it read into its field: it was stopped,
        never skipped (the lines it took are rows)"""

    def __call__(self, row: pacsv.InvalidRow) -> str:
        if self.keep:
            if row.number is None:
                return "error"
            wrong = WrongFields(row.number - 2, row.actual_columns, row.expected_columns)
            text = row.text or ""
            if (lines := text.count("\n")) and text.count('"') % 2:  # balanced quotes: a multi-line field, ragged
                self.run_on = (wrong, lines)
                return "error"
            if self.rows and wrong.row <= self.rows[-1].row:  # met again: a dataset reads a file's start twice
                return "skip"
            if len(self.rows) >= self.most:
                self.refused = wrong
                return "error"
            self.rows.append(wrong)
        return "skip"


def quote_left_open(name: str, row: WrongFields, lines: int) -> str:
    """Why a CSV file whose row opens a quote it never closes is refused (its field took the lines after it)."""
    return (
        f"{name}: row {row.row + 2:,} of the file (the header is row 1) opens a quote it never closes, and the next "
        f'{lines:,} line(s) were read into one field of it: fix the quoting (a stray ") and read it again'
    )


_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_UUID_DIGITS = np.array([k for k in range(36) if k not in (8, 13, 18, 23)])  # the rest of its 36 are dashes


def uuid_text(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A column of Arrow's uuid type as text in the standard form, as `str(uuid.UUID)` writes it (8-4-4-4-12
    lower-case hex digits), null where it is null; written in numpy, not a value at a time. Read as it is, a uuid is
    16 raw bytes (pandas gets `bytes`), neither an id anyone wrote nor, mostly, UTF-8."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    storage = array.storage
    rows = len(storage)
    raw = np.zeros((0, 16), np.uint8)
    if rows:
        raw = np.frombuffer(storage.buffers()[1], np.uint8)[storage.offset * 16 : (storage.offset + rows) * 16]
        raw = raw.reshape(rows, 16)
    digits = np.empty((rows, 32), np.uint8)
    digits[:, 0::2], digits[:, 1::2] = _HEX_DIGITS[raw >> 4], _HEX_DIGITS[raw & 15]
    written = np.full((rows, 36), ord("-"), np.uint8)
    written[:, _UUID_DIGITS] = digits
    offsets = np.arange(rows + 1, dtype=np.int64) * 36
    text = pa.LargeStringArray.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(written))
    return pc.if_else(storage.is_null(), pa.scalar(None, text.type), text) if storage.null_count else text


def is_bytes(t: pa.DataType) -> bool:
    """Does a column of this type hold bytes (binary of any width) rather than text?"""
    return bool(
        pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_fixed_size_binary(t)
        or pa.types.is_binary_view(t)
    )


def bytes_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Bytes as UTF-8 text; in a value that is not UTF-8, each byte that cannot be read written as its escape
    (b"A\\xff" reads "A\\xff", as Python's "backslashreplace" writes it), so that every value reads."""
    try:
        return column.cast(pa.large_string())  # checks that every value is UTF-8
    except pa.ArrowInvalid:
        pass
    return pa.chunked_array([pa.array([id_text(b) for b in column.to_pylist()], pa.large_string())])


def id_text(value: object) -> object:
    """One value held as bytes or as a `uuid.UUID` as text (bytes as UTF-8, a byte that is not written as its
    escape; a uuid in its standard form); any other value as it is."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value) if isinstance(value, uuid.UUID) else value


def as_text(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """A column that holds text as bytes (`bytes_text`) or as a uuid (`uuid_text`) as text; None for any other."""
    if isinstance(column.type, pa.UuidType):
        return pa.chunked_array([uuid_text(column)])
    return bytes_text(column) if is_bytes(column.type) else None


def bytes_as_text(table: pa.Table) -> pa.Table:
    """`table` with each column of bytes or uuids `as_text`: pandas would hold their values as `bytes`, which no
    command reads as text (an id b"\\xff\\xfe" ended `thinfile schema check` with a UnicodeDecodeError)."""
    for i, column in enumerate(table.columns):
        text = as_text(column)
        if text is not None:
            table = table.set_column(i, table.column_names[i], text)
    return table


class TableReadError(ValueError):
    """The input cannot be read as a table; the message says what to do."""


def text_encoding() -> str:
    """The encoding CSV tables are read in (THINFILE_CSV_ENCODING, default UTF-8), or TableReadError."""
    try:
        return csv_encoding()
    except ValueError as err:
        raise TableReadError(str(err)) from None


def most_footer_bytes() -> int:
    """The largest footer a Parquet table file may hold (THINFILE_PARQUET_MAX_FOOTER_MB), or TableReadError."""
    try:
        return parquet_max_footer_bytes()
    except ValueError as err:
        raise TableReadError(str(err)) from None


_PARQUET_END = b"PAR1"


def footer_bytes(path: Path) -> int | None:
    """The length of a Parquet file's footer (its metadata), as the file's last 8 bytes state it (a 4-byte length,
    then PAR1); None for a file that does not end so, or states a footer longer than itself (pyarrow, reading it,
    then says what is wrong with it)."""
    with path.open("rb") as f:
        size = f.seek(0, os.SEEK_END)
        if size < 12:
            return None
        f.seek(size - 8)
        tail = f.read(8)
    length = int.from_bytes(tail[:4], "little")
    return length if tail[4:] == _PARQUET_END and length <= size - 12 else None


def footer_too_big(path: Path, name: str, most: int) -> str | None:
    """Why the Parquet file at `path` is refused when its footer is over `most` bytes, found before pyarrow parses
    it (its metadata costs memory and time whatever the rows); None for any other file."""
    size = footer_bytes(path)
    if size is None or size <= most:
        return None
    return (
        f"{name}: its metadata (the Parquet footer) is {size / 1e6:,.1f} MB, more than the {most / 1e6:,.1f} MB a "
        "table file may hold; it holds many small row groups (or a great many columns), each costing memory and "
        "time whatever its rows: rewrite it with bigger row groups (pyarrow: pq.write_table(table, path, "
        "row_group_size=1_000_000); Spark: coalesce before writing), or raise THINFILE_PARQUET_MAX_FOOTER_MB"
    )


def is_decoding_error(err: BaseException) -> bool:
    """Did reading a CSV fail on its characters (a file in another encoding than the one it was read in)?"""
    return isinstance(err, UnicodeDecodeError) or "invalid utf8" in str(err).lower()


_RAGGED = re.compile(r"(?:Row #(\d+): )?(Expected \d+ columns, got \d+)(: .*)?", re.DOTALL)


def read_error(err: BaseException) -> str:
    """A reader's error on one line, without the row text a CSV parse error quotes (an applicant's data, and
    possibly megabytes of it): a ragged row is said with what to do about it."""
    text = " ".join(str(err).split()) or type(err).__name__
    if "straddles two block boundaries" in text or "got out of sync with chunker" in text:
        return (
            "a row, or a quoted field, runs longer than the reader's block of a few megabytes (a field of megabytes, "
            "or a quote left open): check the quoting, cut the long field, or store the table as Parquet"
        )
    ragged = _RAGGED.search(text)
    if ragged is None:
        return text
    row, counts = ragged.group(1), ragged.group(2).lower()
    if counts.startswith("expected 1 columns"):
        return (
            f"a row has the wrong number of fields: {counts}; the header is one column, so the file is likely "
            f"separated by ';' or tabs, and {COMMA_SEPARATED}"
        )
    which = f"row {int(row):,} of the file (the header is row 1)" if row else "a row"
    return f"{which} has the wrong number of fields: {counts} (a stray comma or quote, or a cut line); fix or remove it"


_UTF16 = "UTF-16 text: read it with THINFILE_CSV_ENCODING=utf-16, or save it as 'CSV UTF-8'"
_NOT_CSV = (
    (b"\x1f\x8b", "gzip-compressed, not CSV text: decompress it first (gunzip), or save the table as Parquet"),
    (b"PK\x03\x04", "a zip file (an Excel workbook is one), not CSV text: save the sheet as 'CSV UTF-8' or Parquet"),
    (b"\xff\xfe", _UTF16),
    (b"\xfe\xff", _UTF16),
)


def not_csv_text(path: Path, encoding: str) -> str | None:
    """What the file at `path` is, when its first bytes show a compressed file, a workbook or UTF-16 text (read
    in another encoding than `encoding`), with what to do; None otherwise."""
    if not path.is_file():
        return None
    with open(path, "rb") as f:
        start = f.read(4)
    found = [what for magic, what in _NOT_CSV if start.startswith(magic)]
    utf16 = encoding.replace("_", "-").lower().startswith("utf-16")
    return found[0] if found and not (found[0] is _UTF16 and utf16) else None


def wrong_encoding(name: str, encoding: str, path: Path | None = None) -> str:
    """One line for a CSV file that is not text in `encoding`, saying what to do (what the file at `path` is, when
    its first bytes show it)."""
    if path is not None and (what := not_csv_text(path, encoding)):
        return f"{name} is {what}"
    if encoding == "utf8":
        return (
            f"{name} is not UTF-8 text; a CSV file saved by Excel on a Chinese system is GBK / GB18030: read it "
            "with THINFILE_CSV_ENCODING=gb18030 (big5, cp1252, ... for others), or save it as 'CSV UTF-8' or Parquet"
        )
    return (
        f"{name} is not {encoding} text (THINFILE_CSV_ENCODING={encoding}): set THINFILE_CSV_ENCODING to the "
        "file's encoding (utf-8, gb18030, big5, ...)"
    )


def list_parts(path: str | Path) -> list[Path]:
    """Data files of a table: the file itself, or every .parquet/.csv below a folder, sorted."""
    p = Path(path)
    if p.is_file():
        if p.suffix.lower() not in SUFFIXES:
            raise TableReadError(
                f"{p}: unsupported file type {p.suffix!r}; give a .parquet or .csv file or a folder of them"
            )
        return [p]
    if p.is_dir():
        named = [f for f in p.rglob("*") if f.suffix.lower() in SUFFIXES and not f.name.startswith((".", "_"))]
        dangling = sorted(f for f in named if f.is_symlink() and not f.exists())
        if dangling:
            first = dangling[0]
            more = f" (and {len(dangling) - 1:,} more)" if len(dangling) > 1 else ""
            raise TableReadError(
                f"{first} is a link to {os.readlink(first)}, which does not exist{more}: fix the link or remove it"
            )
        odd = sorted(f for f in named if f.exists() and not (f.is_file() or f.is_dir()))
        if odd:
            more = f" (and {len(odd) - 1:,} more)" if len(odd) > 1 else ""
            raise TableReadError(f"{_not_a_file(odd[0])}{more}: move it out of the folder, or give a file in its place")
        parts = sorted(f for f in named if f.is_file())
        if not parts:
            raise TableReadError(f"{p}: no .parquet or .csv files found in this folder")
        return parts
    if p.exists():
        raise TableReadError(f"{_not_a_file(p)}: give a .parquet or .csv file or a folder of them")
    raise TableReadError(f"{p}: no such file or folder")


def _not_a_file(path: Path) -> str:
    """`path` named as what it is where a data file was looked for: a FIFO, a device or a socket (read from, it
    would wait for a writer or never end)."""
    mode = path.stat().st_mode
    kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
    return f"{path} is {kind}, not a file"


def _parquet_dataset(path: Path, parts: list[Path]) -> ds.Dataset:
    """The table's Parquet files only (a data card or README beside them is not read), hive keys included, each
    column in the widest type its files hold it in (whole numbers in one month's file, fractions in the next)."""
    # a page the writer checksummed is verified: damage that still decodes is caught
    fmt = ds.ParquetFileFormat(
        default_fragment_scan_options=ds.ParquetFragmentScanOptions(page_checksum_verification=True)
    )
    if not path.is_dir():
        return ds.dataset(str(path), format=fmt)
    files = [str(f) for f in parts]
    found = ds.dataset(files, format=fmt, partitioning="hive", partition_base_dir=str(path))
    if len(parts) > 1:
        try:
            widened = pa.unify_schemas(
                [found.schema, *(pq.read_schema(f) for f in parts)], promote_options="permissive"
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # types no one type holds: each file read as the first is
            return found
        if not widened.equals(found.schema):
            return ds.dataset(files, schema=widened, format=fmt, partitioning="hive", partition_base_dir=str(path))
    return found


def _parquet_table(path: Path, parts: list[Path]) -> pa.Table:
    """The rows of the table's Parquet files, as `_parquet_dataset` holds them. Each file is read whole, not as a
    dataset scans it: a scan reads each row group on its own, at a cost that grows with their count (a file of
    20,000 one-row groups: 6 GiB and 50 s, where reading it whole takes 1.2 GiB, nearly all its metadata)."""
    dataset = _parquet_dataset(path, parts)
    tables = [_as_in(fragment, dataset.schema) for fragment in dataset.get_fragments()]
    return pa.concat_tables(tables) if tables else dataset.schema.empty_table()


def _as_in(fragment: ds.ParquetFileFragment, schema: pa.Schema) -> pa.Table:
    """One file's rows in the dataset's `schema`: its hive keys' values (which win over a column of the same name),
    its columns cast to their type there, nulls for a column it lacks."""
    keys = ds.get_partition_keys(fragment.partition_expression)
    file = pq.ParquetFile(fragment.path, page_checksum_verification=True)
    held = [n for n in schema.names if n not in keys and n in file.schema_arrow.names]
    table = file.read(columns=held)
    rows = table.num_rows
    columns = [
        pa.repeat(pa.scalar(keys[f.name], f.type), rows)
        if f.name in keys
        else table.column(f.name).cast(f.type)
        if f.name in held
        else pa.nulls(rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def _nonempty_parts(path: Path) -> list[Path]:
    """`list_parts`, refusing a 0-byte file among them (a failed extract: no header, so no columns)."""
    parts = list_parts(path)
    empty = [f for f in parts if f.stat().st_size == 0]
    if empty:
        more = f" (and {len(empty) - 1:,} more)" if len(empty) > 1 else ""
        raise TableReadError(
            f"{empty[0]}: empty file (0 bytes, not even a header, so its columns cannot be read){more}: fill it or "
            "remove it"
        )
    return parts


def read_table(path: str | Path) -> pd.DataFrame:
    """The whole table in memory (for training-sized data; batch jobs stream parts instead). A folder of both
    CSV and Parquet files is read as its CSV files, then its Parquet files, each kind in path order, each column in
    one type: the widest its files hold (whole numbers in one month's file, fractions in the next), else text for
    CSV files (ids written as numbers in one file and with letters in the next)."""
    return _read(Path(path), None)[0]


class SetAside(NamedTuple):
    """A CSV row `read_table_setting_aside` did not read: its file, and where it is and its count of fields."""

    file: Path
    wrong: WrongFields


MOST_WRONG_FIELDS_SETTING = "THINFILE_BATCH__MAX_WRONG_FIELD_ROWS"


def read_table_setting_aside(path: str | Path, most: int) -> tuple[pd.DataFrame, list[SetAside]]:
    """As `read_table`, but up to `most` CSV rows per file with another number of fields than its header (a stray
    comma or quote, a cut line) are left out and returned, as a batch job sets them aside; more: TableReadError in
    a batch job's words (`most` is its `batch.max_wrong_field_rows`)."""
    return _read(Path(path), most)


def _read(p: Path, most: int | None) -> tuple[pd.DataFrame, list[SetAside]]:
    """The table at `p` and the CSV rows set aside (`most` None: none, such a row is an error)."""
    parts = _nonempty_parts(p)
    encoding = text_encoding()
    csv = [f for f in parts if f.suffix.lower() == ".csv"]
    rest = [f for f in parts if f.suffix.lower() != ".csv"]
    if rest:
        most_footer = most_footer_bytes()
        for f in rest:
            if refusal := footer_too_big(f, str(f), most_footer):
                raise TableReadError(refusal)
    tables: list[pa.Table] = []
    aside: list[SetAside] = []
    for part in csv:
        table, wrong = _read_csv(part, p, encoding, most)
        tables.append(table)
        aside.extend(SetAside(part, w) for w in wrong)
    try:
        frames = [_stacked(tables).to_pandas()] if tables else []
        if rest:
            frames.append(bytes_as_text(_parquet_table(p, rest)).to_pandas())
    except Exception as err:  # pyarrow raises many kinds for a malformed file
        if is_decoding_error(err):
            raise TableReadError(wrong_encoding(str(p), encoding, p)) from None
        raise TableReadError(f"{p}: cannot be read as a table ({read_error(err)})") from None
    return (frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)), aside


def _stacked(tables: list[pa.Table]) -> pa.Table:
    """The tables one after another, each column in one type: the widest that holds each file's, else text."""
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    as_text = set()
    for name in dict.fromkeys(n for t in tables for n in t.column_names):
        fields = [pa.schema([t.schema.field(name)]) for t in tables if name in t.column_names]
        try:
            pa.unify_schemas(fields, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            as_text.add(name)
    texts = [
        t.cast(pa.schema([pa.field(f.name, pa.string()) if f.name in as_text else f for f in t.schema])) for t in tables
    ]
    return pa.concat_tables(texts, promote_options="permissive")


def _read_csv(part: Path, root: Path, encoding: str, most: int | None) -> tuple[pa.Table, list[WrongFields]]:
    """One CSV file (with the hive keys of its folders under `root`), read on every core; when it holds rows with
    the wrong number of fields and `most` is given, read again on one thread (which numbers them), up to `most`
    of them set aside."""
    keys = hive_keys(part, root) if root.is_dir() else []

    def read(handler: SkipWrongFields | None, threads: bool) -> pa.Table:
        read_options = pacsv.ReadOptions(encoding=encoding, use_threads=threads)
        options = {
            "read_options": read_options,
            "parse_options": pacsv.ParseOptions(invalid_row_handler=handler),
            "convert_options": pacsv.ConvertOptions(strings_can_be_null=True),
        }
        try:  # not a one-file dataset, whose setup costs more than a small file's read (1,000 of them 0.9 s, not 0.35)
            table = pacsv.read_csv(part, **options)
        except pa.ArrowInvalid as err:
            if not one_line_without_end(err, part, read_options.block_size):
                raise
            table = pacsv.read_csv(with_line_end(part, encoding), **options)
        for key, value in keys:
            table = table.append_column(key, pa.repeat(value, table.num_rows))
        return table

    handler = None
    quotes = quotes_in(part)
    try:
        try:
            return _no_run_on(read(None, threads=quotes == 0), quotes, part), []
        except pa.ArrowInvalid as err:
            if _RAGGED.search(" ".join(str(err).split())) is None:
                raise
            if most is None:  # read again on one thread, whose error numbers the row
                read(None, threads=False)
                raise
        handler = SkipWrongFields(keep=True, most=most)
        return _no_run_on(read(handler, threads=False), quotes, part), handler.rows
    except TableReadError:
        raise
    except Exception as err:  # pyarrow raises many kinds for a malformed file
        if is_decoding_error(err):
            raise TableReadError(wrong_encoding(str(part), encoding, part)) from None
        if handler is not None and handler.run_on is not None:
            raise TableReadError(quote_left_open(str(part), *handler.run_on)) from None
        if handler is not None and handler.refused is not None:
            w = handler.refused
            raise TableReadError(
                f"{part}: more than {most:,} rows have another number of fields than the header (row {w.row + 2:,} "
                f"of the file has {w.fields} fields where the header has {w.expected}; the header is row 1): check "
                f"the delimiter and the quoting, or raise {MOST_WRONG_FIELDS_SETTING} (batch-score's "
                "--max-wrong-field-rows)"
            ) from None
        if what := not_csv_text(part, encoding):
            raise TableReadError(f"{part} is {what}") from None
        raise TableReadError(f"{part}: cannot be read as a table ({read_error(err)})") from None


def quotes_in(path: Path) -> int:
    """The count of double quotes in the file. pyarrow's CSV reader on several threads cuts a file at line ends, and
    a quote left open (a stray `"`) then silently drops the rest of its block (3,584 of 20,000 rows gone, and no
    error); on one thread it reads on into the quoted field. Only a file without one is safe to read on several;
    an odd count means a quote may be left open (or a quote is written inside a field: 5" screen)."""
    count = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 24), b""):
            count += block.count(b'"')
    return count


def run_on_field(table: pa.Table) -> tuple[int, int] | None:
    """(row, line ends) of the text value holding the most line ends among those holding the delimiter too (lines
    of a CSV file, not an address written on two), when one does."""
    worst: tuple[int, int] | None = None
    for column in table.columns:
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)) or not len(column):
            continue
        rows = pc.if_else(pc.match_substring(column, ","), column, pa.scalar(None, column.type))
        ends = pc.count_substring(rows, "\n").fill_null(0).to_numpy()
        k = int(ends.argmax())
        if ends[k] and (worst is None or ends[k] > worst[1]):
            worst = (k, int(ends[k]))
    return worst


def _no_run_on(table: pa.Table, quotes: int, part: Path) -> pa.Table:
    """`table`, or TableReadError when its file holds an odd count of quotes and a text value holds line ends: the
    field of a quote left open, which took the lines after it, rows never read (its count of fields can be right)."""
    if quotes % 2 and (run_on := run_on_field(table)) is not None:
        row, lines = run_on
        raise TableReadError(quote_left_open(str(part), WrongFields(row, 0, 0), lines))
    return table


HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


def hive_keys(part: Path, root: Path) -> list[tuple[str, pa.Scalar]]:
    """The `key=value` folders between `root` and the file `part`, each value as pyarrow's hive partitioning reads a
    folder's: URI-decoded, a whole number that fits 32 bits as int32, else text (HIVE_NULL as a null)."""
    out = []
    for folder in part.relative_to(root).parts[:-1]:
        key, sep, text = folder.partition("=")
        if not sep:
            continue
        value = urllib.parse.unquote(text)
        try:
            scalar = pa.scalar(None) if value == HIVE_NULL else pa.scalar(value).cast(pa.int32())
        except pa.ArrowInvalid:
            scalar = pa.scalar(value)
        out.append((key, scalar))
    return out


def one_line_without_end(err: BaseException, path: Path, block_size: int) -> bool:
    """Did pyarrow refuse `path` ('Empty CSV file or block') as a file whose first block ends before its first line
    does: a header alone with no line end after it, which it reads once the line end is there?"""
    return "empty csv file or block" in str(err).lower() and path.stat().st_size <= block_size


def with_line_end(path: Path, encoding: str) -> pa.BufferReader:
    """The file's text with a line end added, in its encoding, for pyarrow to read."""
    return pa.BufferReader((path.read_bytes().decode(encoding) + "\n").encode(encoding))


READ_AS_MISSING: tuple[str, ...] = tuple(t for t in pacsv.ConvertOptions().null_values if t)
"""Texts the CSV reader (pyarrow's defaults, as `features.io` reads) takes for a missing value, as an empty cell."""


def cells_as_written(path: Path, columns: Sequence[str]) -> pd.DataFrame | None:
    """These columns of a CSV table (a file or a folder of them) as the text of each cell, "" for an empty one, in
    `read_table`'s row order; None for any other table or one that cannot be read so."""
    parts = list_parts(path)
    if not all(p.suffix.lower() == ".csv" for p in parts):
        return None
    options = pacsv.ConvertOptions(
        include_columns=list(columns),
        include_missing_columns=True,
        column_types={c: pa.string() for c in columns},
        null_values=[],
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    try:
        read = pacsv.ReadOptions(encoding=text_encoding())
        tables = [pacsv.read_csv(p, read_options=read, convert_options=options) for p in parts]
        return pa.concat_tables(tables).to_pandas()
    except (OSError, ValueError, pa.ArrowException):
        return None
