"""`thinfile batch-score` under faults: killed parents and workers, damaged input, read-only and full disks, a
second job on the same folder. Each ends in one line naming the cause and what to do, no traceback, a non-zero
exit, no process left behind, and a rerun that resumes.

The command runs as a real subprocess (`python -m thinfile.cli`), as an operator would run it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import psutil
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from thinfile.commands.batch import register
from thinfile.features.generator import generate_frame
from thinfile.features.schema import Schema
from thinfile.serving.batch import BatchOutputError, BatchStoppedError, batch_score
from thinfile.training.champion import fit_champion
from thinfile.training.settings import TrainConfig

BOOK_ROWS = 6_000
RESUME = "rerun the same command to resume"


@pytest.fixture(scope="module")
def scorer_dir(population: pd.DataFrame, schema: Schema, tmp_path_factory: pytest.TempPathFactory) -> Path:
    scorer = fit_champion(
        population.iloc[:6_000], population.iloc[6_000:9_000], schema, TrainConfig(max_rounds=30, num_threads=1)
    )
    return scorer.save(tmp_path_factory.mktemp("faults_model") / "scorer")


@pytest.fixture(scope="module")
def book_file(schema: Schema, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6,000 applicants in one Parquet file of 500-row row groups (read-only for the tests)."""
    path = tmp_path_factory.mktemp("faults_book") / "book.parquet"
    generate_frame(schema, rows=BOOK_ROWS, seed=31).to_parquet(path, row_group_size=500)
    return path


def command(source: Path, out: Path, model: Path, *, workers: int = 1, chunk_rows: int = 100) -> list[str]:
    return [
        sys.executable,
        "-m",
        "thinfile.cli",
        "batch-score",
        str(source),
        str(out),
        "--model",
        str(model),
        "--workers",
        str(workers),
        "--chunk-rows",
        str(chunk_rows),
    ]


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})


@contextmanager
def started(cmd: list[str], log: Path) -> Iterator[subprocess.Popen]:
    """The command running in its own session; whatever is left of the session is killed afterwards."""
    with log.open("w") as err:
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=err,
            text=True,
            start_new_session=True,
            # a killed job's fork server leaves its socket folder behind: in the test's folder, not /tmp
            env={**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(log.parent)},
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            for p in _session(proc.pid):
                p.kill()


def _session(sid: int) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter(["pid"]):
        try:
            if os.getsid(p.pid) == sid:
                out.append(p)
        except (ProcessLookupError, PermissionError):
            continue
    return out


def wait_for_workers(proc: subprocess.Popen, at_least: int = 2, timeout: float = 120) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        workers = workers_of(proc.pid)
        if len(workers) >= at_least:
            return workers
        time.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} scoring processes while the job ran")


def descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def wait_for_parts(out: Path, proc: subprocess.Popen, at_least: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(list((out / "scores").glob("part-*.parquet"))) >= at_least:
            return
        if proc.poll() is not None:
            raise AssertionError(f"the job ended ({proc.returncode}) before writing {at_least} parts")
        time.sleep(0.01)
    raise AssertionError(f"fewer than {at_least} parts after {timeout} s")


def workers_of(pid: int) -> list[psutil.Process]:
    """The scoring processes of a job: multiprocessing's resource tracker and fork server (the parent of the
    workers it forks) excluded."""
    processes = []
    for child in psutil.Process(pid).children(recursive=True):
        try:  # a child that has just exited (a zombie, or gone) is no worker
            if "resource_tracker" not in " ".join(child.cmdline()):
                processes.append((child, child.ppid()))
        except (psutil.ZombieProcess, psutil.NoSuchProcess):
            continue
    servers = {parent for _, parent in processes} - {pid}
    return [c for c, _ in processes if c.pid not in servers]


def the_error(stderr: str) -> str:
    """The one line a failed command ends with; asserts there is no traceback and nothing after it."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], stderr
    return errors[0]


def manifest_of(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


# ---------------------------------------------------------------- processes


@pytest.mark.slow
def test_workers_exit_when_the_parent_is_killed(book_file: Path, scorer_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with started(command(book_file, out, scorer_dir, workers=2, chunk_rows=50), tmp_path / "err.log") as proc:
        wait_for_workers(proc)
        wait_for_parts(out, proc, at_least=2)
        workers = descendants(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        _, alive = psutil.wait_procs(workers, timeout=15)
        assert alive == []


def fork_server_of(pid: int, timeout: float = 60) -> psutil.Process:
    """The job's fork server, as soon as it is running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in psutil.Process(pid).children():
            with contextlib.suppress(psutil.NoSuchProcess, psutil.ZombieProcess):
                if "forkserver" in " ".join(child.cmdline()):
                    return child
        time.sleep(0.01)
    raise AssertionError(f"no fork server within {timeout} s")


@pytest.mark.slow
def test_a_fork_server_still_importing_ends_with_its_killed_job(
    book_file: Path, scorer_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with started(command(book_file, out, scorer_dir, workers=2, chunk_rows=50), tmp_path / "err.log") as proc:
        server = fork_server_of(proc.pid)
        time.sleep(0.2)  # its interpreter has started; its imports take a second or more
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert ended(server, timeout=0.5)


def ended(process: psutil.Process, timeout: float) -> bool:
    """Whether `process` ends within `timeout` s (a zombie has ended: whoever adopted it may not reap it yet)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


@pytest.mark.slow
def test_sigterm_stops_the_job_and_its_workers_in_one_line(book_file: Path, scorer_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with started(command(book_file, out, scorer_dir, workers=2, chunk_rows=50), tmp_path / "err.log") as proc:
        wait_for_workers(proc)
        wait_for_parts(out, proc, at_least=2)
        workers = descendants(proc.pid)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
        _, alive = psutil.wait_procs(workers, timeout=15)
    assert code == 128 + signal.SIGTERM and alive == []
    line = the_error((tmp_path / "err.log").read_text())
    parts = len(list((out / "scores").glob("part-*.parquet")))
    assert f"{parts:,} finished parts are kept, rerun the same command to resume" in line and parts >= 2
    assert not manifest_of(out)["complete"]


@pytest.mark.slow
def test_ctrl_c_stops_a_spark_job_in_one_line_counting_its_parts_and_leaves_no_process(
    book_file: Path, scorer_dir: Path, tmp_path: Path
) -> None:
    pytest.importorskip("pyspark")
    out = tmp_path / "out"
    cmd = [*command(book_file, out, scorer_dir, chunk_rows=20), "--engine", "spark", "--master", "local[2]"]
    with started(cmd, tmp_path / "err.log") as proc:
        wait_for_parts(out, proc, at_least=3, timeout=240)
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(60)
        _, alive = psutil.wait_procs(_session(proc.pid), timeout=30)
    line = the_error((tmp_path / "err.log").read_text())
    parts = len(list((out / "scores").glob("part-*.parquet")))
    assert code == 128 + signal.SIGINT and alive == []
    assert f"{parts:,} finished parts are kept, rerun the same command to resume" in line and parts < BOOK_ROWS // 20
    assert not list(out.glob(".stop-*"))


@pytest.mark.slow
def test_a_spark_job_leaves_spark_and_hadoops_own_log_off_the_console(
    book_file: Path, scorer_dir: Path, tmp_path: Path
) -> None:
    pytest.importorskip("pyspark")
    cmd = [*command(book_file, tmp_path / "out", scorer_dir, chunk_rows=2_000), "--engine", "spark"]
    done = run([*cmd, "--master", "local[2]"])
    assert done.returncode == 0, done.stderr
    logged = [line for line in done.stderr.splitlines() if re.search(r"log4j|setLogLevel|Spark log level|WARN ", line)]
    assert logged == [], done.stderr


@pytest.mark.slow
def test_a_killed_worker_ends_in_one_line_and_the_rerun_resumes(
    book_file: Path, scorer_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    cmd = command(book_file, out, scorer_dir, workers=2, chunk_rows=50)
    with started(cmd, tmp_path / "err.log") as proc:
        wait_for_parts(out, proc, at_least=2)
        wait_for_workers(proc)[-1].kill()
        code = proc.wait(60)
    line = the_error((tmp_path / "err.log").read_text())
    assert code == 2 and "a worker died" in line and RESUME in line

    rerun = run(cmd)
    assert rerun.returncode == 0, rerun.stderr
    assert manifest_of(out)["complete"] and manifest_of(out)["counts"]["rows_in"] == BOOK_ROWS


# ---------------------------------------------------------------- input


def test_a_parquet_file_damaged_mid_file_ends_in_one_line(
    book_file: Path, scorer_dir: Path, schema: Schema, tmp_path: Path
) -> None:
    damaged = tmp_path / "book.parquet"
    data = bytearray(book_file.read_bytes())
    page = pq.ParquetFile(book_file).metadata.row_group(4).column(3).data_page_offset
    data[page : page + 64] = b"\xff" * 64
    damaged.write_bytes(bytes(data))

    result = run(command(damaged, tmp_path / "out", scorer_dir, chunk_rows=500))

    line = the_error(result.stderr)
    assert result.returncode == 2 and "book.parquet" in line and "damaged" in line
    assert len(list((tmp_path / "out" / "scores").glob("part-*.parquet"))) == 4


def _quietly_damaged(source: Path, damaged: Path, row_group: int, column: int) -> None:
    """`source` rewritten uncompressed with page checksums, then 8 bytes of numbers changed inside one page: the
    kind of damage that still decodes (to other values), checked here with the checksums left unverified."""
    table = pq.read_table(source)
    pq.write_table(table, damaged, row_group_size=500, compression="none", write_page_checksum=True)
    data = bytearray(damaged.read_bytes())
    chunk = pq.ParquetFile(damaged).metadata.row_group(row_group).column(column)
    middle = chunk.data_page_offset + chunk.total_compressed_size // 2
    data[middle : middle + 8] = bytes(b ^ 0x5A for b in data[middle : middle + 8])
    damaged.write_bytes(bytes(data))
    assert not pq.read_table(damaged).equals(table)  # no error without verification: the values differ silently


def test_a_parquet_page_damaged_so_that_it_still_decodes_is_caught_by_its_checksum(
    book_file: Path, scorer_dir: Path, tmp_path: Path
) -> None:
    damaged = tmp_path / "book.parquet"
    number = pq.ParquetFile(book_file).schema_arrow.get_field_index("declared_income_rmb")
    _quietly_damaged(book_file, damaged, row_group=4, column=number)

    result = run(command(damaged, tmp_path / "out", scorer_dir, chunk_rows=500))

    line = the_error(result.stderr)
    assert result.returncode == 2 and "book.parquet" in line and "checksum" in line
    assert len(list((tmp_path / "out" / "scores").glob("part-*.parquet"))) == 4


# ---------------------------------------------------------------- output


@contextmanager
def tmpfs(where: Path, options: str) -> Iterator[Path]:
    """A small tmpfs mounted at `where` (needs root; the test is skipped otherwise)."""
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_read_only_output_folder_ends_in_one_line(book_file: Path, scorer_dir: Path, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        with tmpfs(tmp_path / "ro", "ro,size=1m") as ro:
            result = run(command(book_file, ro / "out", scorer_dir))
    else:
        (tmp_path / "ro").mkdir(mode=0o500)
        result = run(command(book_file, tmp_path / "ro" / "out", scorer_dir))

    line = the_error(result.stderr)
    assert result.returncode == 2 and "cannot write to" in line and "another output folder" in line


@pytest.mark.slow
def test_a_full_disk_ends_in_one_line_and_the_rerun_after_freeing_space_resumes(
    book_file: Path, scorer_dir: Path, tmp_path: Path
) -> None:
    with tmpfs(tmp_path / "small", "size=256k") as disk:
        cmd = command(book_file, disk / "out", scorer_dir, chunk_rows=200)
        full = run(cmd)
        line = the_error(full.stderr)
        assert full.returncode == 2 and "no space left" in line and RESUME in line
        kept = len(list((disk / "out" / "scores").glob("part-*.parquet")))
        assert 0 < kept < BOOK_ROWS // 200

        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        rerun = run(cmd)
        assert rerun.returncode == 0, rerun.stderr
        manifest = manifest_of(disk / "out")
        assert manifest["complete"] and manifest["counts"]["rows_in"] == BOOK_ROWS and manifest["runs"] == 2


def test_an_injected_enospc_ends_in_one_line(
    book_file: Path, scorer_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write, calls = pq.ParquetWriter.write_table, [0]

    def write_until_full(self: pq.ParquetWriter, *args: object, **kwargs: object) -> None:
        calls[0] += 1
        if calls[0] > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        write(self, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", write_until_full)
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)
    args = [str(book_file), str(tmp_path / "out"), "--model", str(scorer_dir), "--workers", "1"]
    result = CliRunner().invoke(app, ["batch-score", *args, "--chunk-rows", "1000"])

    assert result.exit_code == 2, result.output
    assert "no space left" in the_error(result.output) and RESUME in result.output


@pytest.fixture
def disk_fills_up(monkeypatch: pytest.MonkeyPatch) -> dict[str, bool]:
    """A disk that fills up during the 4th Parquet write (after its rows are in the file): from then on every Parquet
    and text write fails with ENOSPC, until the test sets `full` back to False ("frees space")."""
    write_table, write_text, disk, calls = pq.ParquetWriter.write_table, Path.write_text, {"full": False}, [0]

    def parquet(self: pq.ParquetWriter, *args: object, **kwargs: object) -> None:
        calls[0] += 1
        if not disk["full"]:
            write_table(self, *args, **kwargs)
            disk["full"] = calls[0] == 4
        if disk["full"]:
            raise OSError(errno.ENOSPC, "No space left on device")

    def text(self: Path, data: str, *args: object, **kwargs: object) -> int:
        if disk["full"]:
            self.touch()
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_text(self, data, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", parquet)
    monkeypatch.setattr(Path, "write_text", text)
    return disk


def test_a_full_disk_leaves_no_temporary_file_and_a_rerun_after_freeing_space_scores_every_row(
    book_file: Path, scorer_dir: Path, tmp_path: Path, disk_fills_up: dict[str, bool]
) -> None:
    out = tmp_path / "out"
    with pytest.raises(BatchStoppedError, match="no space left on the disk holding"):
        batch_score(book_file, out, scorer_dir, chunk_rows=1_000, workers=1)
    assert disk_fills_up["full"] and [p for p in out.rglob("*") if ".tmp-" in p.name] == []

    disk_fills_up["full"] = False
    result = batch_score(book_file, out, scorer_dir, chunk_rows=1_000, workers=1)

    on_disk = {
        folder: sum(pq.ParquetFile(p).metadata.num_rows for p in (out / folder).glob("part-*.parquet"))
        for folder in ("scores", "rejects")
    }
    assert result.chunks_skipped >= 1 and [p for p in out.rglob("*") if ".tmp-" in p.name] == []
    assert (on_disk["scores"], on_disk["rejects"]) == (result.scored, result.rejected)
    assert on_disk["scores"] + on_disk["rejects"] == pq.ParquetFile(book_file).metadata.num_rows == BOOK_ROWS


# ---------------------------------------------------------------- concurrency


@pytest.mark.slow
def test_a_second_job_on_the_same_output_folder_is_refused(book_file: Path, scorer_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with started(command(book_file, out, scorer_dir, chunk_rows=100), tmp_path / "err.log") as first:
        wait_for_parts(out, first, at_least=1)
        first.send_signal(signal.SIGSTOP)
        try:
            with pytest.raises(BatchOutputError, match=r"another batch job \(pid \d+"):
                batch_score(book_file, out, scorer_dir, chunk_rows=100, workers=1)
        finally:
            first.send_signal(signal.SIGCONT)
        assert first.wait(120) == 0, (tmp_path / "err.log").read_text()
    manifest = manifest_of(out)
    assert manifest["complete"] and manifest["counts"]["rows_in"] == BOOK_ROWS and manifest["runs"] == 1


def test_a_damaged_model_file_is_one_line_and_leaves_no_temporary_file(
    book_file: Path, scorer_dir: Path, tmp_path: Path
) -> None:
    damaged = tmp_path / "scorer"
    shutil.copytree(scorer_dir, damaged)
    model = damaged / "model.lgb"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    temp = tmp_path / "temp"
    temp.mkdir()
    done = subprocess.run(
        command(book_file, tmp_path / "out", damaged),
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(temp)},
    )
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert lines == [
        f"error: {model} is damaged (it does not match the checksum scorer.json keeps for it): restore it from a "
        "copy, or train again"
    ]
    assert list(temp.iterdir()) == []


@pytest.mark.parametrize(
    "written",
    [b"{}", b"[1]", b"", b'{"schema": {"name": "x"'],
    ids=["an-empty-object", "a-list", "an-empty-file", "cut-short"],
)
def test_a_damaged_scorer_json_is_one_line_naming_it(
    written: bytes, book_file: Path, scorer_dir: Path, tmp_path: Path
) -> None:
    damaged = tmp_path / "scorer"
    shutil.copytree(scorer_dir, damaged)
    (damaged / "scorer.json").write_bytes(written)
    done = subprocess.run(
        command(book_file, tmp_path / "out", damaged),
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {damaged / 'scorer.json'} is damaged or was not written by thinfile (")
    assert lines[0].endswith("restore the scorer's folder from a copy, or train again")


def test_ctrl_c_that_python_swallows_after_the_last_part_still_stops_the_command_in_one_line(
    book_file: Path, scorer_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import weakref

    from thinfile.serving.batch import job

    write_report = job.write_report

    def interrupted_in_a_callback(*args: object, **kwargs: object) -> object:
        class Anything:
            pass

        thing = Anything()
        weakref.finalize(thing, signal.raise_signal, signal.SIGINT)  # its exception cannot reach the job
        del thing
        return write_report(*args, **kwargs)

    monkeypatch.setattr(job, "write_report", interrupted_in_a_callback)
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)
    args = [str(book_file), str(tmp_path / "out"), "--model", str(scorer_dir), "--chunk-rows", "1000"]
    result = CliRunner().invoke(app, ["batch-score", *args])

    assert result.exit_code == 130, result.output
    assert "interrupted" in the_error(result.output) and "Exception ignored" not in result.output
    assert "Traceback" not in result.output


def test_a_full_disk_while_the_report_is_written_leaves_no_report_and_says_so_in_one_line(
    book_file: Path, scorer_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    args = [str(book_file), str(out), "--model", str(scorer_dir), "--workers", "1", "--chunk-rows", "3000"]
    batch_score(book_file, out, scorer_dir, chunk_rows=3_000, workers=1)
    (out / "scores" / "part-00000-00001.parquet").unlink()  # the rerun has a part to score, then the report
    write_text = Path.write_text

    def full_at_the_html(self: Path, data: str, *args: object, **kwargs: object) -> int:
        if "population_report.html" in self.name:
            self.touch()
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_text(self, data, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full_at_the_html)
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)
    result = CliRunner().invoke(app, ["batch-score", *args])

    assert result.exit_code == 2, result.output
    line = the_error(result.output)
    assert "no space left" in line and "population report was not written" in line and "rerun" in line
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "rejects", "scores"]
    assert json.loads((out / "manifest.json").read_text())["complete"] is False
