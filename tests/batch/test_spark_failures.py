"""The one line a failed Spark job ends with, read from Spark's own error texts (as py4j hands them over); a second
Ctrl-C while a stopped job's tasks are stopped."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest

from thinfile.serving.batch.output import OutputLayout
from thinfile.serving.batch.settings import BatchSettings
from thinfile.serving.batch.spark import _failure, _start_failure, stop_tasks

CRASHED = """An error occurred while calling z:org.apache.spark.api.python.PythonRDD.collectAndServe.
: org.apache.spark.SparkException: Job aborted due to stage failure: Task 1 in stage 0.0 failed 1 times, most recent \
failure: Lost task 1.0 in stage 0.0 (TID 1) (10.0.0.7 executor driver): org.apache.spark.SparkException: Python worker \
exited unexpectedly (crashed). Consider setting 'spark.sql.execution.pyspark.udf.faulthandler.enabled' or\
'spark.python.worker.faulthandler.enabled' configuration to 'true' for the better Python traceback.
\tat org.apache.spark.api.python.BasePythonRunner$ReaderIterator$$anonfun$1.applyOrElse(PythonRunner.scala:621)
Caused by: java.io.EOFException
\tat java.base/java.io.DataInputStream.readFully(DataInputStream.java:210)
"""

PYTHON_ERROR = """An error occurred while calling z:org.apache.spark.api.python.PythonRDD.collectAndServe.
: org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in stage 3.0 failed 4 times, most recent \
failure: Lost task 0.3 in stage 3.0 (TID 12) (worker-2 executor 1): org.apache.spark.api.python.PythonException: \
Traceback (most recent call last):
  File "/opt/spark/python/lib/pyspark.zip/pyspark/worker.py", line 1247, in main
    process()
NotADirectoryError: [Errno 20] Not a directory: '/mnt/out/scores/.part-00000-00003.parquet.tmp-77-1a2b3c4d'

\tat org.apache.spark.api.python.BasePythonRunner$ReaderIterator.handlePythonException(PythonRunner.scala:520)
"""


def test_a_crashed_python_worker_is_named_in_one_line() -> None:
    assert _failure(RuntimeError(CRASHED)) == "Python worker exited unexpectedly (crashed)"


def test_a_task_s_python_error_is_the_reason_not_the_java_frames() -> None:
    reason = _failure(RuntimeError(PYTHON_ERROR))

    assert reason.startswith("NotADirectoryError: [Errno 20] Not a directory") and "\n" not in reason


@pytest.mark.parametrize(
    ("master", "text", "expected"),
    [
        (
            "spark://10.0.0.1:7077",
            "Cannot call methods on a stopped SparkContext.\nThis stopped ...",
            "no master answered",
        ),
        (
            "local[x]",
            "Invalid master URL: local[x]\n\tat org.apache.spark.SparkContext...",
            "Invalid master URL: local[x]",
        ),
    ],
)
def test_a_spark_start_failure_is_its_first_line(master: str, text: str, expected: str) -> None:
    line = _start_failure(master, RuntimeError(text))

    assert expected in line and "\n" not in line and "\tat" not in line


def test_a_second_ctrl_c_while_the_spark_tasks_stop_never_cuts_a_call_to_the_jvm_half_way(tmp_path: Path) -> None:
    answered: list[str] = []

    class Context:  # py4j's handle on the JVM's SparkContext
        def cancelJobGroup(self, group: str) -> None:
            signal.raise_signal(signal.SIGINT)  # the second Ctrl-C, while py4j waits for the JVM's answer
            answered.append(group)

    done = threading.Thread(target=lambda: None)
    done.start()
    (tmp_path / "scores").mkdir()
    stop = tmp_path / ".stop-g"
    settings = BatchSettings(spark_stop_wait_s=60, spark_stop_longest_s=60)
    with pytest.raises(KeyboardInterrupt):
        stop_tasks(Context(), "g", stop, done, OutputLayout(tmp_path), settings)
    assert answered == ["g"] and not stop.exists()
