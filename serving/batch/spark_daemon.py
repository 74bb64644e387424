"""Spark's Python daemon with the scoring side imported once, before it forks a worker per task slot.

Spark starts every Python worker by forking its daemon. With pyspark's own daemon each worker then imports
the scoring side (pyarrow, pandas, LightGBM, numba: seconds) on its first task; forked from this one, a
worker starts with them loaded, as the embedded engine's workers do from their fork server. Sessions the
batch job starts use it (`spark.python.daemon.module`); nothing else imports it.
"""

from __future__ import annotations

from pyspark.daemon import manager

import thinfile.serving.batch.preload  # numba set up once here, not in every forked worker
import thinfile.serving.batch.spark_tasks  # noqa: F401 (the tasks' module and everything they score with)

if __name__ == "__main__":
    manager()
