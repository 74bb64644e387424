"""Batch output: one Parquet part per input chunk, each written atomically; a manifest; resume after a kill.

A chunk is finished exactly when its scores part exists under its final name: the rejects part is
renamed into place first and the scores part last, and the scores part carries the chunk's counts
and population summary in its footer, so a rerun recovers everything from the files themselves.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from thinfile.features.settings import ValidationSettings
from thinfile.features.words import clipped

MANIFEST = "manifest.json"
STOP_PREFIX = ".stop-"
SCORES = "scores"
REJECTS = "rejects"
LOCK = ".thinfile-batch.lock"
REPORT_JSON = "population_report.json"
REPORT_HTML = "population_report.html"
FOOTER_KEY = b"thinfile.chunk"
MANIFEST_VERSION = 1
_SHOWN_INPUTS = 3

try:
    import fcntl
except ImportError:  # not POSIX: no lock (Windows)
    fcntl = None  # type: ignore[assignment]


class BatchOutputError(ValueError):
    """The output folder cannot take this job (another job's, busy, not writable). The message says what to do."""


def chunk_name(part_index: int, chunk: int) -> str:
    return f"part-{part_index:05d}-{chunk:05d}"


@dataclass(frozen=True)
class OutputLayout:
    root: Path

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    @property
    def lock(self) -> Path:
        return self.root / LOCK

    @property
    def scores(self) -> Path:
        return self.root / SCORES

    @property
    def rejects(self) -> Path:
        return self.root / REJECTS

    def scores_part(self, name: str) -> Path:
        return self.scores / f"{name}.parquet"

    def rejects_part(self, name: str) -> Path:
        return self.rejects / f"{name}.parquet"


def _tmp(path: Path) -> Path:
    """A hidden name unique to this write: Spark may run two attempts of a task at once, on hosts whose process ids
    can be equal."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def _remove_quietly(tmp: Path) -> None:
    """Delete a failed write's temporary file; an error doing so must not hide the write's own error."""
    with suppress(OSError):
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    """Write to a hidden temporary name, then rename into place; a failed write (a full disk) leaves no file."""
    tmp = _tmp(path)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        _remove_quietly(tmp)
        raise


def write_texts_together(files: Mapping[Path, str]) -> None:
    """Write every file or none: each to a hidden temporary name, then all renamed into place. A failed write (a
    full disk) removes the temporaries and every file of the set, an earlier run's too, so that no mix of new, old
    and missing files passes for a whole set."""
    tmps = {path: _tmp(path) for path in files}
    try:
        for path, text in files.items():
            tmps[path].write_text(text, encoding="utf-8")
        for path, tmp in tmps.items():
            os.replace(tmp, path)
    except BaseException:
        for path, tmp in tmps.items():
            _remove_quietly(tmp)
            _remove_quietly(path)
        raise


def write_json_atomic(path: Path, payload: dict) -> None:
    write_text_atomic(path, json.dumps(payload, indent=1, default=str))


def write_parquet_atomic(table: pa.Table, path: Path, footer: dict | None = None) -> None:
    """Write to a hidden temporary name in the same folder, flush to disk, then rename into place.

    Dictionary columns are stored as they are (no re-hashing) and read back as plain text: the file
    carries no Arrow schema, only the Parquet one and the chunk's footer. Only the other columns get min/max
    statistics: a dictionary column's (a handful of texts in every row group) prune nothing and cost a third
    of the write. A failed write (a full disk, an interrupt) removes its temporary file before the error goes on.
    """
    tmp = _tmp(path)
    try:
        _write_parquet(table, tmp, footer)
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        _remove_quietly(tmp)
        raise


def _write_parquet(table: pa.Table, path: Path, footer: dict | None) -> None:
    """The Parquet file at `path`; on failure its descriptor is closed all the same (an open file keeps its space)."""
    dictionary = [f.name for f in table.schema if pa.types.is_dictionary(f.type)]
    plain = [name for name in table.column_names if name not in dictionary]
    writer = pq.ParquetWriter(  # page checksums: a reader that verifies them finds a damaged part (~1.5 ms a part)
        path,
        table.schema,
        store_schema=False,
        use_dictionary=dictionary or True,
        write_statistics=plain,
        write_page_checksum=True,
    )
    try:
        writer.write_table(table)
        if footer is not None:
            writer.add_key_value_metadata({FOOTER_KEY: json.dumps(footer)})
        writer.close()
    except BaseException:
        with suppress(Exception):
            writer.close()
        if writer.file_handle is not None:
            with suppress(Exception):
                writer.file_handle.close()
        raise


def read_footer(path: Path) -> dict:
    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta[FOOTER_KEY])


def finished_chunks(layout: OutputLayout) -> dict[str, dict]:
    """Chunk name -> footer (counts, population summary) of every committed scores part."""
    if not layout.scores.is_dir():
        return {}
    return {p.stem: read_footer(p) for p in sorted(layout.scores.glob("part-*.parquet"))}


def remove_temporaries(layout: OutputLayout) -> int:
    """Delete half-written parts and manifests left by a killed or failed run (hidden .tmp files) and a killed Spark
    driver's stop file; returns how many. Only safe while holding the folder's lock (`open_output` does it)."""
    removed = 0
    for folder in (layout.root, layout.scores, layout.rejects):
        if folder.is_dir():
            for p in folder.glob(".*.tmp-*"):
                p.unlink(missing_ok=True)
                removed += 1
    if layout.root.is_dir():
        for p in layout.root.glob(f"{STOP_PREFIX}*"):  # a Spark job's stop file, left by a killed driver
            p.unlink(missing_ok=True)
            removed += 1
    return removed


def job_identity(inputs: list[dict], model: dict, schema_fingerprint: str, chunk_rows: int, top_reasons: int) -> dict:
    """What must match for a rerun to continue a job rather than start a different one."""
    return {
        "inputs": [{k: i[k] for k in ("path", "rows", "fingerprint")} for i in inputs],
        "model_fingerprint": model["fingerprint"],
        "schema_fingerprint": schema_fingerprint,
        "chunk_rows": chunk_rows,
        "top_reasons": top_reasons,
    }


def _identity_of(manifest: dict) -> dict:
    return job_identity(
        manifest["inputs"],
        manifest["model"],
        manifest["schema_fingerprint"],
        manifest["chunk_rows"],
        manifest["top_reasons"],
    )


def _input_differences(old: list[dict], new: list[dict]) -> str:
    """The first few input files added, left out or changed since the job in the folder, then how many more."""
    before, now = {i["path"]: i for i in old}, {i["path"]: i for i in new}
    said = []
    for name, part in now.items():
        was = before.get(name)
        if was is None:
            said.append(f"input file {name} was not in that job")
        elif was["rows"] != part["rows"]:
            said.append(f"input file {name} has {part['rows']:,} rows, had {was['rows']:,}")
        elif was["fingerprint"] != part["fingerprint"]:
            said.append(f"input file {name} has changed (same row count, other contents)")
    said += [f"input file {name} of that job is not in this one" for name in before if name not in now]
    if not said:
        return "the same input files are listed in another order"
    more = len(said) - _SHOWN_INPUTS
    return ", ".join(said[:_SHOWN_INPUTS]) + (f", and {more:,} more input file(s) differ" if more > 0 else "")


def _same_model(old: dict, new: dict) -> bool:
    return all(old.get(k) == new.get(k) for k in ("name", "version"))


def _differences(old: dict, new: dict, old_model: dict | None = None, new_model: dict | None = None) -> list[str]:
    """What differs between two jobs' identities; `old_model` and `new_model`, their manifests' models (name,
    version), tell a model's decision policy changed from another model."""
    out = []
    if old["inputs"] != new["inputs"]:
        out.append(_input_differences(old["inputs"], new["inputs"]))
    if (
        old_model
        and new_model
        and _same_model(old_model, new_model)
        and old["model_fingerprint"] != new["model_fingerprint"]
    ):
        out.append(
            f"model {new_model['name']} v{new_model['version']} decides by other cut-offs ({old['model_fingerprint']} "
            f"then, {new['model_fingerprint']} now: --cutoff or THINFILE_APPROVE_CUTOFF / THINFILE_REFER_CUTOFF)"
        )
        old = {**old, "model_fingerprint": new["model_fingerprint"]}
    for key, what in (
        ("model_fingerprint", "the model"),
        ("schema_fingerprint", "the feature schema"),
        ("chunk_rows", "--chunk-rows"),
        ("top_reasons", "the number of reason codes"),
    ):
        if old[key] != new[key]:
            out.append(f"{what} differs ({old[key]} then, {new[key]} now)")
    return out


def _layout(root: str | Path, input_root: Path) -> OutputLayout:
    layout = OutputLayout(Path(root).resolve())
    source = input_root.resolve()
    if layout.root == source or (source.is_dir() and source in layout.root.parents):
        raise BatchOutputError(
            f"output folder {layout.root} is inside the input {source}; "
            "its parts would be read as input on the next run. Choose another folder"
        )
    if layout.root.exists() and not layout.manifest.is_file() and not all(map(_ours, layout.root.iterdir())):
        raise BatchOutputError(
            f"{layout.root} is not empty and holds no thinfile batch manifest; give a new or empty folder"
        )
    return layout


def _ours(path: Path) -> bool:
    """What a job can leave in its folder before its manifest exists: the lock, and a manifest cut off by a kill."""
    return path.name == LOCK or path.name.startswith(f".{MANIFEST}.tmp-")


@contextmanager
def _exclusive(layout: OutputLayout) -> Iterator[None]:
    """Hold an exclusive lock on the output folder (released when the process ends, even by SIGKILL); the lock
    file is removed when the job ends, so a finished job leaves no lock naming it."""
    if fcntl is None:
        yield
        return
    fd = _locked(layout)
    try:
        with suppress(OSError):  # who holds the lock is for messages only; a full disk must not stop the cleanup
            os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}, since {_now()}".encode(), 0)
        yield
    finally:
        with suppress(FileNotFoundError):
            os.unlink(layout.lock)  # while still held: whoever opens the path next makes a new lock
        os.close(fd)


def _locked(layout: OutputLayout) -> int:
    """An open, locked descriptor of the lock file that is still the file at its path (the job before may have
    removed the one this process opened first)."""
    assert fcntl is not None
    while True:
        fd = os.open(layout.lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 256, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise BatchOutputError(
                f"another batch job ({holder}) is writing to {layout.root}; wait for it to finish, "
                "or give another output folder"
            ) from None
        try:
            current = os.stat(layout.lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            current = False
        if current:
            os.ftruncate(fd, 0)
            return fd
        os.close(fd)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


@contextmanager
def open_output(
    root: str | Path, manifest: dict, input_root: Path, overwrite: bool = False
) -> Iterator[tuple[OutputLayout, dict]]:
    """Create or reopen the output folder and hold it for this job; yields (layout, manifest as written).

    Refuses a folder holding something else, a different job (unless `overwrite`), or a job still
    running in another process (exclusive lock). A job found complete (`left_complete`) is yielded with its manifest
    as it is, which says `complete`: nothing is written. Resuming keeps `started` and counts `runs`. Once the lock is
    held, any temporary file in the folder is a dead job's: they are removed before anything is written, so a
    rerun after a full disk frees their space first.
    """
    layout = _layout(root, input_root)
    layout.root.mkdir(parents=True, exist_ok=True)
    with _exclusive(layout):
        remove_temporaries(layout)
        if layout.manifest.is_file():
            old = json.loads(layout.manifest.read_text())
            diffs = _differences(_identity_of(old), _identity_of(manifest), old.get("model"), manifest.get("model"))
            if diffs and not overwrite:
                raise BatchOutputError(
                    f"{layout.root} holds another job ({'; '.join(diffs)}). Give a new output folder, or pass "
                    "--overwrite to discard it"
                )
            if diffs:
                _discard(layout)
            elif left_complete(layout, old):
                yield layout, old
                return
            else:
                manifest = {**manifest, "started": old.get("started"), "runs": old.get("runs", 1) + 1}
        write_json_atomic(layout.manifest, manifest)  # first: a folder left without it would be refused as not ours
        layout.scores.mkdir(parents=True, exist_ok=True)
        layout.rejects.mkdir(parents=True, exist_ok=True)
        yield layout, manifest


def left_complete(layout: OutputLayout, manifest: dict) -> bool:
    """Does the folder hold the job of `manifest` complete: the manifest says so, and every scores part and the
    population report are there? A rerun has nothing to do then."""
    needed = [layout.root / REPORT_JSON, layout.root / REPORT_HTML]
    needed += [layout.scores_part(name) for name in manifest.get("chunks", {})]
    return bool(manifest.get("complete")) and all(path.is_file() for path in needed)


def _discard(layout: OutputLayout) -> None:
    for folder in (layout.scores, layout.rejects):
        if folder.is_dir():
            for p in folder.iterdir():
                p.unlink()
    layout.manifest.unlink(missing_ok=True)


def new_manifest(
    engine: str, inputs: list[dict], model: dict, schema_fingerprint: str, chunk_rows: int, top_reasons: int
) -> dict:
    return {
        "manifest_version": MANIFEST_VERSION,
        "engine": engine,
        "inputs": inputs,
        "model": model,
        "schema_fingerprint": schema_fingerprint,
        "chunk_rows": chunk_rows,
        "top_reasons": top_reasons,
        "started": _now(),
        "runs": 1,
        "complete": False,
        "chunks": {},
        "counts": {"rows_in": 0, "scored": 0, "rejected": 0},
    }


def update_manifest(layout: OutputLayout, manifest: dict, chunks: dict[str, dict], complete: bool = False) -> dict:
    counts = {k: sum(c["counts"][k] for c in chunks.values()) for k in ("rows_in", "scored", "rejected")}
    manifest = {
        **manifest,
        "chunks": {k: v["counts"] for k, v in sorted(chunks.items())},
        "counts": counts,
        "complete": complete,
    }
    if complete:
        manifest["finished"] = _now()
    write_json_atomic(layout.manifest, manifest)
    return manifest


EMPTY_PART = "empty.parquet"


def ensure_a_part(folder: Path, schema: pa.Schema) -> None:
    """A finished job's folder with no part (no row rejected; no row read) gets one empty part with its columns, so
    that reading the folder gives a table with those columns (an empty folder reads back as one of no columns).
    Its name is not a chunk's (`part-*`): a rerun does not take it for a finished chunk."""
    if not any(folder.glob("*.parquet")):
        write_parquet_atomic(schema.empty_table(), folder / EMPTY_PART)


def duplicate_ids(layout: OutputLayout, id_column: str, shown: int = 5) -> dict[str, object]:
    """Ids that appear more than once in the job's output (scores and rejects): how many, their rows, the first few.

    Reads only the id column of the job's parts (part-*.parquet); rows without an id (rejected for it) are not
    counted. The first few are cut as a rejected value is (`ValidationSettings.shown_value_chars`), so the summary
    stays small however long the ids.
    """
    columns = []
    for folder, column in ((layout.scores, id_column), (layout.rejects, "id")):
        parts = sorted(str(p) for p in folder.glob("part-*.parquet")) if folder.is_dir() else []
        if parts:  # the job's own parts: another file dropped in the folder is not the job's output
            ids = ds.dataset(parts, format="parquet").to_table(columns=[column]).column(column)
            columns.extend(ids.cast(pa.string()).chunks)
    counts = pa.table({"id": pa.chunked_array(columns, pa.string())}).group_by("id").aggregate([("id", "count")])
    # null and "" dropped from the counts, not from the ids: no second copy of every id
    repeated = counts.filter(
        pc.and_kleene(pc.greater(counts.column("id_count"), 1), pc.not_equal(counts.column("id"), ""))
    )
    return {
        "ids": repeated.num_rows,
        "rows": int(pc.sum(repeated.column("id_count")).as_py() or 0),
        "first": _first_cut(repeated.column("id"), shown),
    }


def _first_cut(ids: pa.ChunkedArray, shown: int) -> list[str]:
    """The `shown` least of `ids`, each cut as a rejected value is; only the characters shown become Python text."""
    chars = ValidationSettings().shown_value_chars
    first = ids.take(pc.sort_indices(ids)[:shown])
    return [clipped(i, chars) for i in pc.utf8_slice_codeunits(first, 0, chars + 1).to_pylist()]
