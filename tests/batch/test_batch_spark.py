"""Spark engine on local[2]: the same scores, rejects and counts as the embedded engine (one session-scoped job)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from thinfile.features.schema import Schema
from thinfile.serving.batch import BatchInputError, batch_score
from thinfile.serving.batch import spark as spark_module
from thinfile.serving.batch.spark import (
    DAEMON,
    SPARK_MISSING,
    SparkUnavailableError,
    spark_session,
)

pytest.importorskip("pyspark")

ROWS = 3_000
CSV_ROWS = 1_000  # c.csv: rows read, besides
WRONG_FIELDS = {0: "A1,2", 801: "A2,3"}  # data rows with the wrong number of fields (the second starts chunk 2)
ROWS_IN = ROWS + CSV_ROWS + len(WRONG_FIELDS)


@pytest.fixture(scope="session")
def both_engines(book: pd.DataFrame, scorer_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("spark_batch")
    rows = book.head(ROWS).astype({"return_rate": object})
    rows.at[10, "return_rate"] = 9.0
    rows.at[2_000, "return_rate"] = 7.0  # row 300 of the second file
    (root / "book").mkdir()
    rows.iloc[:1_700].to_parquet(root / "book" / "a.parquet")
    rows.iloc[1_700:].to_parquet(root / "book" / "b.parquet")
    lines = book.iloc[ROWS : ROWS + CSV_ROWS].to_csv(index=False).splitlines()
    for row, line in sorted(WRONG_FIELDS.items()):
        lines.insert(row + 1, line)
    (root / "book" / "c.csv").write_text("\n".join(lines) + "\n")
    embedded = batch_score(root / "book", root / "embedded", scorer_dir, chunk_rows=800, workers=1)
    spark = batch_score(root / "book", root / "spark", scorer_dir, engine="spark", master="local[2]", chunk_rows=800)
    yield root, embedded, spark
    spark_session("local[2]").stop()


@pytest.mark.slow
def test_spark_gives_the_embedded_scores_rejects_and_counts(both_engines, schema: Schema, read_scores) -> None:
    root, embedded, spark = both_engines
    assert (
        (spark.rows_in, spark.scored, spark.rejected)
        == (embedded.rows_in, embedded.scored, embedded.rejected)
        == (ROWS_IN, ROWS - 2 + CSV_ROWS, 2 + len(WRONG_FIELDS))
    )
    pd.testing.assert_frame_equal(
        read_scores(root / "spark", schema.id_column),
        read_scores(root / "embedded", schema.id_column),
        check_exact=True,
    )
    a, b = (
        pd.read_parquet(root / e / "rejects").sort_values(["source", "row"], ignore_index=True)
        for e in ("spark", "embedded")
    )
    assert a.equals(b)
    assert list(zip(b["source"], b["row"], strict=True)) == [("a.parquet", 10), ("b.parquet", 300)] + [
        ("c.csv", row) for row in WRONG_FIELDS
    ]
    assert spark.report["stability"] == embedded.report["stability"]
    assert spark.report["fairness"] == embedded.report["fairness"]


def test_missing_pyspark_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(SparkUnavailableError) as err:
        spark_session("local[1]")
    assert str(err.value) == SPARK_MISSING and "pip install 'thinfile[spark]'" in SPARK_MISSING


def test_a_spark_rerun_of_a_complete_output_leaves_its_manifest_and_report_as_they_were(
    book: pd.DataFrame, scorer_dir: Path, tmp_path: Path
) -> None:
    source, out = tmp_path / "book.parquet", tmp_path / "out"
    book.head(500).to_parquet(source)
    batch_score(source, out, scorer_dir, chunk_rows=250, workers=1)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    again = batch_score(source, out, scorer_dir, engine="spark", master="local[2]", chunk_rows=250)

    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert (again.engine, again.chunks_skipped, again.rows_in) == ("embedded", 2, 500)


@pytest.mark.slow
def test_spark_resumes_from_the_parts_an_embedded_job_committed(
    both_engines, schema: Schema, scorer_dir: Path, read_scores
) -> None:
    root, embedded, _ = both_engines
    resumed = root / "resumed"
    shutil.copytree(root / "embedded", resumed)
    parts = sorted((resumed / "scores").glob("part-*.parquet"))
    lost = parts[1:3]
    for p in lost:
        p.unlink()
    kept = {p.name: p.stat().st_mtime_ns for p in parts if p not in lost}

    result = batch_score(root / "book", resumed, scorer_dir, engine="spark", master="local[2]", chunk_rows=800)

    assert result.chunks_skipped == embedded.chunks - len(lost) and result.chunks == embedded.chunks
    assert (result.rows_in, result.scored, result.rejected) == (embedded.rows_in, embedded.scored, embedded.rejected)
    pd.testing.assert_frame_equal(
        read_scores(resumed, schema.id_column), read_scores(root / "embedded", schema.id_column), check_exact=True
    )
    assert {name: (resumed / "scores" / name).stat().st_mtime_ns for name in kept} == kept


@pytest.mark.slow
def test_a_parquet_file_damaged_mid_file_stops_the_spark_job_in_one_line(
    both_engines, book: pd.DataFrame, scorer_dir: Path, tmp_path: Path
) -> None:
    clean, damaged = tmp_path / "clean.parquet", tmp_path / "book" / "book.parquet"
    book.head(ROWS).to_parquet(clean, row_group_size=500)
    data = bytearray(clean.read_bytes())
    page = pq.ParquetFile(clean).metadata.row_group(4).column(3).data_page_offset
    data[page : page + 64] = b"\xff" * 64
    damaged.parent.mkdir()
    damaged.write_bytes(bytes(data))

    with pytest.raises(BatchInputError) as err:
        batch_score(damaged.parent, tmp_path / "out", scorer_dir, engine="spark", master="local[2]", chunk_rows=500)

    message = str(err.value)
    assert "\n" not in message and message.startswith("book.parquet is damaged")
    assert {p.stem for p in (tmp_path / "out" / "scores").glob("part-*.parquet")} >= {"part-00000-00000"}


@pytest.mark.slow
def test_the_spark_progress_bar_ends_at_every_row_and_names_the_tasks(
    both_engines, scorer_dir: Path, tmp_path: Path
) -> None:
    root, _, _ = both_engines
    console = Console(record=True, width=160, force_terminal=False)

    batch_score(
        root / "book",
        tmp_path / "out",
        scorer_dir,
        engine="spark",
        master="local[2]",
        chunk_rows=800,
        progress=True,
        console=console,
    )

    text = console.export_text()
    assert f"scoring {ROWS_IN:,} rows in" in text and f"{ROWS_IN}/{ROWS_IN} rows" in text


@pytest.mark.slow
def test_spark_forks_its_python_workers_from_a_daemon_that_imported_the_scoring_side(both_engines) -> None:
    psutil = pytest.importorskip("psutil")

    daemons = [
        p.info["cmdline"]
        for p in psutil.process_iter(["cmdline"])
        if p.info["cmdline"] and DAEMON in p.info["cmdline"] and "-m" in p.info["cmdline"]
    ]

    assert daemons, "no Python worker of the session runs from thinfile's daemon module"


SESSIONS = """
from thinfile.serving.batch.spark import spark_session
for level in ("ERROR", "INFO"):
    session = spark_session("local[1]", log_level=level)
    jvm = session.sparkContext._jvm
    root = jvm.org.apache.logging.log4j.LogManager.getRootLogger()
    print(jvm.java.lang.System.getProperty("user.option"), root.getLevel())
    session.stop()
"""


@pytest.mark.slow
def test_sessions_thinfile_starts_keep_the_users_driver_java_options_and_take_each_ones_log_level(
    tmp_path: Path,
) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "spark-defaults.conf").write_text("spark.driver.extraJavaOptions -Duser.option=kept\n")
    env = {**os.environ, "SPARK_CONF_DIR": str(conf)}
    done = subprocess.run([sys.executable, "-c", SESSIONS], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["kept", "ERROR", "kept", "INFO"], done.stdout


@pytest.mark.parametrize("master", ["bogus", "local[x]", "spark://"])
def test_a_master_that_is_no_spark_url_is_refused_before_a_jvm_starts(master: str, monkeypatch) -> None:
    class NoSessionYet:  # as in a fresh process: nothing active, and a builder that must not be reached
        @staticmethod
        def getActiveSession() -> None:
            return None

        @property
        def builder(self) -> None:
            raise AssertionError("a JVM was started")

    monkeypatch.setattr(spark_module, "_pyspark", lambda: NoSessionYet)
    with pytest.raises(SparkUnavailableError, match=rf"--master '{re.escape(master)}' is not a Spark master URL"):
        spark_session(master)


def test_a_master_that_is_no_spark_url_leaves_no_output_folder_behind(
    book: pd.DataFrame, scorer_dir: Path, tmp_path: Path
) -> None:
    book.head(50).to_parquet(tmp_path / "book.parquet")
    with pytest.raises(SparkUnavailableError, match="is not a Spark master URL"):
        batch_score(tmp_path / "book.parquet", tmp_path / "out", scorer_dir, engine="spark", master="nonsense://x")
    assert not (tmp_path / "out").exists()  # a corrected command starts afresh, whatever its --chunk-rows
