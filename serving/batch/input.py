"""Batch input: find the data files, check all of them before any output, then stream fixed-size chunks."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from thinfile.features.io import (
    SkipWrongFields,
    TableReadError,
    WrongFields,
    footer_too_big,
    is_decoding_error,
    list_parts,
    most_footer_bytes,
    not_csv_text,
    one_line_without_end,
    quote_left_open,
    quotes_in,
    read_error,
    run_on_field,
    text_encoding,
    with_line_end,
    wrong_encoding,
)
from thinfile.features.schema import FeatureType, Schema
from thinfile.features.settings import ParquetFiles
from thinfile.features.validate import as_float64, column_problems
from thinfile.serving.batch.settings import BatchSettings

HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
_SAMPLE_BYTES = 1 << 20
_READ_BATCH_ROWS_MIN = 8_192
_READ_BATCH_ROWS_MAX = 1 << 20
_CSV_BLOCK_BYTES = 4 << 20
"""CSV read in 4 MiB blocks: 1.7-1.9x the speed of 16 MiB blocks (bench/csv_input.py), whose parse outgrows the
caches; a row may be up to this long."""
_SHOWN_PROBLEMS = 3
MOST_WRONG_FIELD_ROWS = BatchSettings.model_fields["max_wrong_field_rows"].default
MOST_FOOTER_BYTES = int(ParquetFiles.model_fields["parquet_max_footer_mb"].default * 1e6)


class BatchInputError(ValueError):
    """The input cannot be scored as it is. The message says what to fix, and whether finished parts were kept."""


@dataclass(frozen=True)
class ChunkRows:
    """Where a chunk's rows are in its file: `first`, the row number of its first row read were none of its own
    rows set aside; `wrong_fields`, the rows with the wrong number of fields it sets aside (in file order)."""

    first: int
    wrong_fields: tuple[WrongFields, ...] = ()

    @staticmethod
    def of(rows: ChunkRows | int) -> ChunkRows:
        """`rows` itself, or a chunk that sets no row aside whose first row is number `rows`."""
        return rows if isinstance(rows, ChunkRows) else ChunkRows(rows)

    def numbers(self, positions: np.ndarray) -> np.ndarray:
        """The file's row numbers of the chunk's rows read at `positions` (from 0)."""
        if not self.wrong_fields:
            return self.first + positions
        starts = np.array([w.row for w in self.wrong_fields], dtype=np.int64) - np.arange(len(self.wrong_fields))
        return self.first + positions + np.searchsorted(starts - self.first, positions, side="right")


@dataclass(frozen=True)
class InputPart:
    """One data file of the input, checked: its format, row count, hive keys and fingerprint."""

    path: Path
    name: str
    format: str
    rows: int
    fingerprint: str
    columns: tuple[str, ...]
    partition: dict[str, str | None] = field(default_factory=dict)
    csv_as_text: bool = False
    quoted: bool = True
    """a CSV file holding a double quote, which is read on one thread (`quotes_in`)"""
    row_groups: int = 1
    encoding: str = "utf8"
    wrong_fields: tuple[WrongFields, ...] = ()
    """the CSV rows with another number of fields than the header: not read, each set aside as a reject"""

    @property
    def read_rows(self) -> int:
        """Rows the reader yields: all of them but those with the wrong number of fields."""
        return self.rows - len(self.wrong_fields)

    def chunks(self, chunk_rows: int) -> int:
        """Chunks of `chunk_rows` rows read; one, for its rejects, when every row has the wrong number of fields."""
        return max(-(-self.read_rows // chunk_rows), 1 if self.wrong_fields else 0)

    def chunk_rows(self, k: int, chunk_rows: int) -> ChunkRows:
        """Where chunk k's rows are in the file, and the rows with the wrong number of fields it sets aside: those
        among or just before its rows read (the last chunk also takes those after its last row)."""
        if not self.wrong_fields:
            return ChunkRows(k * chunk_rows)
        rows = np.array([w.row for w in self.wrong_fields], dtype=np.int64)
        read_before = rows - np.arange(len(rows))  # rows read before each
        chunk = np.minimum(read_before // chunk_rows, self.chunks(chunk_rows) - 1)
        mine = np.flatnonzero(chunk == k)
        earlier = int(np.count_nonzero(chunk < k))
        return ChunkRows(k * chunk_rows + earlier, tuple(self.wrong_fields[i] for i in mine))

    def as_dict(self) -> dict[str, object]:
        return {
            "path": self.name,
            "format": self.format,
            "rows": self.rows,
            "fingerprint": self.fingerprint,
            "partition": self.partition,
            "columns": len(self.columns),
            **({"encoding": self.encoding} if self.encoding != "utf8" else {}),
            **({"rows_with_wrong_field_count": len(self.wrong_fields)} if self.wrong_fields else {}),
        }


def fingerprint(path: Path) -> str:
    """sha256 over the size and the first and last MiB: cheap, and changes when the file is rewritten."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as fh:
        digest.update(fh.read(_SAMPLE_BYTES))
        if size > _SAMPLE_BYTES:
            fh.seek(max(size - _SAMPLE_BYTES, _SAMPLE_BYTES))
            digest.update(fh.read(_SAMPLE_BYTES))
    return digest.hexdigest()[:32]


def hive_keys(root: Path, path: Path) -> dict[str, str | None]:
    """Partition keys from `key=value` folder names between the input folder and the file."""
    if root.is_file():
        return {}
    keys: dict[str, str | None] = {}
    for folder in path.relative_to(root).parts[:-1]:
        key, eq, value = folder.partition("=")
        if eq and key:
            value = unquote(value)
            keys[key] = None if value == HIVE_NULL else value
    return keys


def wanted_columns(schema: Schema) -> list[str]:
    """Columns a batch job reads: id, model inputs and protected attributes (for the population report)."""
    return [schema.id_column, *schema.feature_names, *schema.protected_names]


def _csv_types(schema: Schema, header: list[str], as_text: bool) -> dict[str, pa.DataType]:
    types = {c: pa.string() for c in header}
    if as_text:
        return types
    for f in schema.features:
        if f.name in types and f.type is not FeatureType.category:
            types[f.name] = pa.float64()
    return types


def _csv_header(path: Path, encoding: str) -> list[str]:
    read = pacsv.ReadOptions(block_size=_CSV_BLOCK_BYTES, encoding=encoding)  # a header of thousands of columns
    parse = pacsv.ParseOptions(invalid_row_handler=SkipWrongFields(keep=False))
    with _open_csv(path, read, parse) as reader:
        return reader.schema.names


def _open_csv(
    path: Path, read: pacsv.ReadOptions, parse: pacsv.ParseOptions, convert: pacsv.ConvertOptions | None = None
) -> pacsv.CSVStreamingReader:
    """pyarrow's reader of the file; a file of one line with no line end after it (a header without its final
    newline) is read with one added, as pyarrow reads that header with it (without, it refuses the file)."""
    try:
        return pacsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as err:
        if not one_line_without_end(err, path, read.block_size):
            raise
    ended = with_line_end(path, read.encoding)
    return pacsv.open_csv(ended, read_options=read, parse_options=parse, convert_options=convert)


def _csv_reader(
    path: Path,
    schema: Schema,
    header: list[str],
    as_text: bool,
    encoding: str,
    wrong_fields: SkipWrongFields | None = None,
    quoted: bool = True,
) -> pacsv.CSVStreamingReader:
    """The file's wanted columns, rows with the wrong number of fields skipped (and kept in `wrong_fields`); read on
    several threads only when neither is kept nor the file holds a quote (`quotes_in`)."""
    keep = [c for c in wanted_columns(schema) if c in header]
    convert = pacsv.ConvertOptions(
        column_types=_csv_types(schema, header, as_text), include_columns=keep, strings_can_be_null=True
    )
    threads = wrong_fields is None and not quoted
    read = pacsv.ReadOptions(block_size=_CSV_BLOCK_BYTES, encoding=encoding, use_threads=threads)
    parse = pacsv.ParseOptions(invalid_row_handler=wrong_fields or SkipWrongFields(keep=False))
    return _open_csv(path, read, parse, convert)


def _count_csv(
    path: Path, schema: Schema, header: list[str], as_text: bool, encoding: str, most_wrong: int
) -> tuple[int, list[WrongFields]]:
    """Rows read, and the rows with the wrong number of fields (more than `most_wrong`: BatchInputError)."""
    rows, wrong = 0, SkipWrongFields(keep=True, most=most_wrong)
    try:
        with _csv_reader(path, schema, header, as_text, encoding, wrong) as reader:
            for batch in reader:
                rows += batch.num_rows
    except pa.ArrowInvalid:
        if wrong.run_on is not None:
            raise BatchInputError(quote_left_open(path.name, *wrong.run_on)) from None
        if wrong.refused is not None:
            raise BatchInputError(too_many_wrong_fields(path.name, wrong.refused, most_wrong)) from None
        raise
    return rows, wrong.rows


def too_many_wrong_fields(name: str, refused: WrongFields, most: int) -> str:
    """Why a file with more than `most` rows of the wrong number of fields is refused, and what to do."""
    row = f"row {refused.row:,} has {refused.fields} fields where the header has {refused.expected}"
    if most == 0:
        return (
            f"{name}: {row}, and --max-wrong-field-rows is 0: fix or remove that row, or allow such rows to become "
            "rejects"
        )
    return (
        f"{name}: more than {most:,} rows have another number of fields than the header ({row}): check the "
        "delimiter and the quoting, or raise --max-wrong-field-rows"
    )


def _inspect_csv(
    path: Path, schema: Schema, encoding: str, most_wrong: int
) -> tuple[int, list[WrongFields], list[str], bool]:
    """Parse the whole file once: rows read, rows with the wrong number of fields, and whether numbers need reading
    as text (a bad value somewhere). A row that is not text in `encoding`: its UnicodeDecodeError."""
    with _undecodable_rows() as undecodable:
        try:
            found = _csv_shape(path, schema, encoding, most_wrong)
        except pa.ArrowInvalid:
            if undecodable:
                raise undecodable[0] from None
            raise
    if undecodable:
        raise undecodable[0]
    return found


def _csv_shape(
    path: Path, schema: Schema, encoding: str, most_wrong: int
) -> tuple[int, list[WrongFields], list[str], bool]:
    header = _csv_header(path, encoding)
    _refuse_repeated(header, " in the header")
    try:
        return *_count_csv(path, schema, header, False, encoding, most_wrong), header, False
    except pa.ArrowInvalid as err:
        if "conversion error" not in str(err).lower() or is_decoding_error(err):
            raise
    return *_count_csv(path, schema, header, True, encoding, most_wrong), header, True


def _all_text(path: Path, encoding: str) -> pa.Table:
    """Every column of a CSV file as read on one thread, rows of the wrong width skipped (to look for a quote left
    open, whose field took the lines after it)."""
    read = pacsv.ReadOptions(block_size=_CSV_BLOCK_BYTES, encoding=encoding, use_threads=False)
    parse = pacsv.ParseOptions(invalid_row_handler=SkipWrongFields(keep=False))
    convert = pacsv.ConvertOptions(column_types={}, strings_can_be_null=True)
    with _open_csv(path, read, parse, convert) as reader:
        return reader.read_all()


def _refuse_repeated(columns: list[str], where: str = "") -> None:
    """ArrowInvalid naming the column names that `columns` holds more than once (which of them to read is
    anybody's guess; pyarrow refuses to select such a column by name)."""
    if len(set(columns)) != len(columns):
        raise pa.ArrowInvalid(f"repeated column names{where}: {sorted({c for c in columns if columns.count(c) > 1})}")


@contextmanager
def _undecodable_rows() -> Iterator[list[UnicodeDecodeError]]:
    """The decoding errors of rows with the wrong number of fields: pyarrow decodes such a row before it calls the
    invalid-row handler, in a callback whose exception Python can only print ("Exception ignored ...", a traceback);
    kept here instead, to name the file's encoding rather than its row."""
    seen: list[UnicodeDecodeError] = []
    previous = sys.unraisablehook

    def keep(unraisable: sys.UnraisableHookArgs) -> None:
        if isinstance(unraisable.exc_value, UnicodeDecodeError):
            seen.append(unraisable.exc_value)
        else:
            previous(unraisable)

    sys.unraisablehook = keep
    try:
        yield seen
    finally:
        sys.unraisablehook = previous


def inspect_part(
    root: Path,
    path: Path,
    schema: Schema,
    encoding: str = "utf8",
    most_wrong: int = MOST_WRONG_FIELD_ROWS,
    most_footer: int = MOST_FOOTER_BYTES,
) -> InputPart:
    """Open one file, count its rows and check its columns; raise BatchInputError naming the file. Up to
    `most_wrong` CSV rows may have the wrong number of fields (each becomes a reject); a Parquet file's footer may
    hold up to `most_footer` bytes."""
    name = str(path.relative_to(root)) if root.is_dir() else path.name
    fmt = "csv" if path.suffix.lower() == ".csv" else "parquet"
    partition = hive_keys(root, path)
    as_text, groups, quotes = False, 1, 0
    wrong_fields: list[WrongFields] = []
    encoding = encoding if fmt == "csv" else "utf8"
    try:
        if path.stat().st_size == 0:
            raise BatchInputError(f"{name}: empty file (0 bytes, not even a header, so its columns cannot be checked)")
        if fmt == "parquet" and (refusal := footer_too_big(path, name, most_footer)):
            raise BatchInputError(refusal)
        if fmt == "parquet":
            meta = pq.ParquetFile(path)
            rows, columns, groups = meta.metadata.num_rows, meta.schema_arrow.names, meta.metadata.num_row_groups
            _refuse_repeated(columns)
        else:
            rows, wrong_fields, columns, as_text = _inspect_csv(path, schema, encoding, most_wrong)
            quotes = quotes_in(path)
            if quotes % 2 and (run_on := run_on_field(_all_text(path, encoding))) is not None:
                raise BatchInputError(quote_left_open(name, WrongFields(run_on[0], 0, 0), run_on[1]))
    except (pa.ArrowException, OSError, UnicodeDecodeError) as err:
        if fmt == "csv" and is_decoding_error(err):
            raise BatchInputError(wrong_encoding(name, encoding, path)) from None
        if fmt == "csv" and (what := not_csv_text(path, encoding)):
            raise BatchInputError(f"{name} is {what}") from None
        kind = "Parquet" if fmt == "parquet" else "CSV"
        raise BatchInputError(f"{name}: not a readable {kind} file ({read_error(err)})") from None
    columns = list(columns) + [k for k in partition if k not in columns]
    _, errors = column_problems(columns, schema)
    if errors:
        raise BatchInputError(f"{name}: {'; '.join(errors)}")
    return InputPart(
        path=path,
        name=name,
        format=fmt,
        rows=int(rows) + len(wrong_fields),
        fingerprint=fingerprint(path),
        columns=tuple(columns),
        partition=partition,
        csv_as_text=as_text,
        quoted=fmt == "csv" and quotes > 0,
        row_groups=max(groups, 1),
        encoding=encoding,
        wrong_fields=tuple(wrong_fields),
    )


def inspect_input(path: str | Path, schema: Schema, most_wrong: int = MOST_WRONG_FIELD_ROWS) -> list[InputPart]:
    """Every data file of the input, checked; one error listing every bad file, before anything is written.

    Paths are made absolute: the Spark engine's tasks open them elsewhere (another working folder, another host)."""
    root = Path(path).absolute()
    try:
        files = list_parts(root)
        encoding = text_encoding()
        most_footer = most_footer_bytes()
    except TableReadError as err:
        raise BatchInputError(str(err)) from None
    parts, problems = [], []
    for f in files:
        try:
            parts.append(inspect_part(root, f, schema, encoding, most_wrong, most_footer))
        except BatchInputError as err:
            problems.append(str(err))
    if problems:
        shown = "; ".join(problems[:_SHOWN_PROBLEMS])
        more = f"; and {len(problems) - _SHOWN_PROBLEMS} more" if len(problems) > _SHOWN_PROBLEMS else ""
        raise BatchInputError(
            f"{len(problems)} of {len(files)} input files cannot be scored, nothing was written: {shown}{more}. "
            + _what_to_do(root, len(problems))
        )
    return parts


def _what_to_do(root: Path, bad: int) -> str:
    if root.is_file():
        return "Fix or replace the file and rerun"
    these, them = ("this file", "it") if bad == 1 else ("these files", "them")
    return f"Fix or delete {these}, or move {them} out of {root}, and rerun"


def normalise(table: pa.Table, partition: dict[str, str | None], schema: Schema) -> pa.Table:
    """Numbers and booleans as float64 (validation then reads them without text parsing); hive keys added."""
    numeric = {f.name for f in schema.features if f.type is not FeatureType.category}
    table = table.replace_schema_metadata(None)
    for i, name in enumerate(table.column_names):
        t = table.schema.field(i).type
        if (
            name in numeric
            and t != pa.float64()
            and (pa.types.is_integer(t) or pa.types.is_boolean(t) or pa.types.is_floating(t))
        ):
            table = table.set_column(i, name, as_float64(table.column(i)))
    for key, value in partition.items():
        if key not in table.column_names:
            table = table.append_column(key, constant_text(value, table.num_rows))
    return table


def constant_text(value: str | None, rows: int) -> pa.Array:
    """`rows` copies of one text (or nulls), built in Arrow, not from a Python list."""
    if value is None:
        return pa.nulls(rows, pa.string())
    return pa.DictionaryArray.from_arrays(np.zeros(rows, np.int32), pa.array([value])).dictionary_decode()


def _stream(
    part: InputPart, schema: Schema, pending: set[int], chunk_rows: int
) -> Iterator[tuple[int, pa.RecordBatch]]:
    """(first row, batch) over the file; Parquet row groups with no pending chunk are not read."""
    keep = [c for c in wanted_columns(schema) if c in part.columns and c not in part.partition]
    if part.format == "csv":
        start = 0
        with _csv_reader(
            part.path, schema, list(part.columns), part.csv_as_text, part.encoding, quoted=part.quoted
        ) as reader:
            for batch in reader:
                yield start, batch
                start += batch.num_rows
        return
    # a chunk as its pages are read, not after the row group; a page the writer checksummed is verified
    pf = pq.ParquetFile(part.path, pre_buffer=False, page_checksum_verification=True)
    sizes = [pf.metadata.row_group(rg).num_rows for rg in range(pf.metadata.num_row_groups)]
    batch_rows = max(min(chunk_rows, _READ_BATCH_ROWS_MAX), _READ_BATCH_ROWS_MIN)
    for start, groups in row_group_runs(sizes, pending, chunk_rows, batch_rows):
        if len(groups) == 1:
            batches = pf.iter_batches(batch_size=batch_rows, row_groups=groups, columns=keep, use_threads=False)
        else:
            batches = iter(pf.read_row_groups(groups, columns=keep, use_threads=False).combine_chunks().to_batches())
        offset = start
        for batch in batches:
            yield offset, batch
            offset += batch.num_rows


def row_group_runs(
    sizes: Sequence[int], pending: set[int], chunk_rows: int, run_rows: int
) -> list[tuple[int, list[int]]]:
    """(first row, row groups) to read at once: consecutive row groups of `sizes` rows holding a row of a pending
    chunk and starting in one chunk, up to `run_rows` rows together (a bigger group alone, streamed). Small groups
    read one by one cost a reader and a batch each, all held until their chunk is complete (20,000 one-row groups:
    0.8 GiB); a run within one chunk loses no other chunk when a group of it cannot be read."""
    runs: list[tuple[int, list[int]]] = []
    start = held = 0
    for rg, n in enumerate(sizes):
        first, last = start // chunk_rows, (start + n - 1) // chunk_rows
        if n and any(c in pending for c in range(first, last + 1)):
            joins = bool(runs) and runs[-1][1][-1] == rg - 1 and runs[-1][0] // chunk_rows == first
            if joins and held + n <= run_rows:
                runs[-1][1].append(rg)
                held += n
            else:
                runs.append((start, [rg]))
                held = n
        start += n
    return runs


def read_chunks(
    part: InputPart, schema: Schema, chunk_rows: int, skip: set[int] | frozenset[int] = frozenset()
) -> Iterator[tuple[int, pa.Table]]:
    """(chunk index, rows [k*chunk_rows, (k+1)*chunk_rows)) of one file as read, skipping chunks in `skip`.

    Tables come as the file holds them (see `normalise`); a chunk is yielded as soon as its last row is read.
    """
    pending = set(range(part.chunks(chunk_rows))) - set(skip)
    if not pending:
        return
    if part.read_rows == 0:  # every row has the wrong number of fields: one chunk of no rows, for their rejects
        with _csv_reader(
            part.path, schema, list(part.columns), part.csv_as_text, part.encoding, quoted=part.quoted
        ) as reader:
            yield 0, reader.schema.empty_table()
        return
    buffer: list[pa.RecordBatch] = []
    row = 0
    try:
        for start, batch in _stream(part, schema, pending, chunk_rows):
            pos = 0
            while pos < batch.num_rows:
                at = start + pos
                k = at // chunk_rows
                end = min((k + 1) * chunk_rows, part.read_rows)
                take = min(batch.num_rows - pos, end - at)
                if k in pending:
                    buffer.append(batch.slice(pos, take))
                    if at + take == end:
                        yield k, pa.Table.from_batches(buffer)
                        buffer = []
                        pending.discard(k)
                        if not pending:  # the rest of the file is not decoded
                            return
                pos += take
            row = start + batch.num_rows
    except (pa.ArrowException, OSError, UnicodeDecodeError) as err:
        if part.format == "csv" and is_decoding_error(err):
            raise BatchInputError(wrong_encoding(part.name, part.encoding, part.path)) from None
        raise BatchInputError(damaged(part.name, row, err)) from None


def damaged(name: str, row: int, err: BaseException) -> str:
    """One line for a file that could not be read part-way, saying what to do."""
    reason = read_error(err)
    return (
        f"{name} is damaged or could not be read after row {row:,} ({reason}); finished parts are kept: "
        "if the read error was passing, rerun the same command to resume; if the file is replaced, "
        "rerun with --overwrite"
    )
