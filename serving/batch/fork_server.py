"""What a fork server started by the job's main thread imports: first the kernel's parent-death signal, then the
scoring side (`preload`).

Its imports take seconds, during which multiprocessing's fork server does not yet watch its job: a job stopped
then (SIGTERM, SIGKILL) takes the fork server along at once instead of leaving it to finish importing. The signal
follows the thread that started the process, so a fork server started by another thread, and Spark's Python daemon
(started by a JVM thread), import `preload` alone.
"""

from __future__ import annotations

import signal

from thinfile.features.lifetime import die_with_parent

die_with_parent(signal.SIGTERM)

from thinfile.serving.batch import preload  # noqa: E402, F401 (the scoring side and numba, set up once)
