"""Settings of batch jobs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from thinfile.features.settings import Section
from thinfile.training.scorer.explain import DEFAULT_TOP_REASONS, TopReasons


class BatchSettings(Section):
    """How `thinfile batch-score` runs: chunking, parallelism, output and the population report."""

    chunk_rows: int = Field(
        50_000, gt=0, description="rows per output part; bounds memory per worker (10M rows: 2.3 GiB peak)"
    )
    workers: int = Field(
        0, ge=0, description="scoring processes; 0: one per CPU core, none for a book of at most in_process_rows"
    )
    in_flight_per_worker: int = Field(
        2, ge=1, description="chunks handed to each worker at once: one scoring, one waiting (memory bound)"
    )
    in_process_rows: int = Field(
        200_000,
        ge=0,
        description="a job not told how many workers to use scores a book of at most this many rows left to score "
        "in its own process on every core, with no workers: starting them (1-1.5 s) costs more than they save (2 "
        "cores, 50,000-row chunks: 150,000 rows 1.9 s in process against 3.3 s with workers; 500,000 rows 4.1-4.5 "
        "against 4.5-4.9 s; 1,000,000 rows 6.7 against 6.3 s; more cores make workers pay off sooner)",
    )
    top_reasons: TopReasons = Field(DEFAULT_TOP_REASONS, description="reason codes written per row")
    max_wrong_field_rows: int = Field(
        10_000,
        ge=0,
        description="CSV rows with the wrong number of fields that one file may hold, each a reject; more and the "
        "file is refused (a wrong delimiter or quote, not a few bad rows)",
    )
    approval_grid_step: float = Field(10.0, gt=0, description="score step of the approval-rate-by-cut-off curve")
    duplicates_shown: int = Field(5, ge=0, le=100, description="duplicate ids named in the summary and report")
    manifest_every_s: float = Field(5.0, ge=0, description="seconds between manifest rewrites while running")
    spark_master: str = Field("local[*]", description="Spark master for --engine spark")
    spark_tasks_per_row_group: int = Field(
        2,
        ge=1,
        description="Spark tasks that may share one Parquet row group (or one CSV file); each decodes it from its "
        "start, so 2 reads a one-row-group file 1.5 times to use 2 cores",
    )
    spark_log_level: Literal["ALL", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF"] = Field(
        "FATAL",
        description="Spark's own console log for a session the job starts (ERROR adds failed tasks' Java traces; the "
        "job's one-line error names the cause either way)",
    )
    spark_stop_wait_s: float = Field(
        3.0,
        ge=0,
        description="after Ctrl-C or SIGTERM, seconds without a newly committed part before a Spark job reports what "
        "it keeps (a cancelled task's Python worker runs until Spark kills it, 2 s by default)",
    )
    spark_stop_longest_s: float = Field(
        15.0, ge=0, description="after Ctrl-C or SIGTERM, the longest a Spark job waits for its tasks to stop"
    )
