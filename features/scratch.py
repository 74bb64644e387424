"""Scratch folders in the system's temporary folder, named for the process that made them
(`thinfile-<kind>-<pid>-<random>`), so that a later run can remove those of a process that was killed (SIGKILL,
out of memory, power cut) before it could remove them itself."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from thinfile.features.settings import ScratchSettings

KINDS = ("run", "log", "model", "fairness")
_NAME = re.compile(rf"thinfile-(?:{'|'.join(KINDS)})-([1-9][0-9]{{0,9}})-[a-z0-9_]{{8}}")
"""a name `scratch_prefix` and `tempfile.mkdtemp` make (its random part: 8 characters), and no other: a folder a
person named `thinfile-run-2024-final` is not one"""


def scratch_prefix(kind: str) -> str:
    """The prefix for a scratch folder of this process (`tempfile.mkdtemp(prefix=...)` adds the random part)."""
    if kind not in KINDS:
        raise ValueError(f"scratch folder kind {kind!r} is not one of {KINDS}")
    return f"thinfile-{kind}-{os.getpid()}-"


def process_alive(pid: int) -> bool:
    """Whether a process of this id runs (one of another user's counts: it may not be signalled). A zombie, dead
    but not yet collected by its parent, does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):  # another user's process; no pid this system can have
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:  # no /proc (macOS), or it ended just now
        return True
    state = stat.rfind(b")") + 2  # after "pid (command) ", where the command may hold any character
    return stat[state : state + 1] != b"Z"


def _last_change(path: str) -> float:
    """When anything was last added to the folder or to a folder inside it (a file written into plots/ changes the
    time of plots/, not of its parent)."""
    newest = os.stat(path).st_mtime
    for folder, subfolders, _ in os.walk(path):
        for name in subfolders:
            newest = max(newest, os.stat(os.path.join(folder, name)).st_mtime)
    return newest


def remove_orphans(settings: ScratchSettings | None = None, root: str | Path | None = None) -> list[Path]:
    """Remove the scratch folders (under `root`, default the system's temporary folder) whose process has ended and
    to which nothing has been added for `settings.orphan_age_s`; the folders removed."""
    settings = settings or ScratchSettings()
    folder = Path(root if root is not None else tempfile.gettempdir())
    now = time.time()
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        found = _NAME.fullmatch(entry.name)
        if found is None or process_alive(int(found[1])):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or now - _last_change(entry.path) < settings.orphan_age_s:
                continue
        except OSError:
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        if not os.path.exists(entry.path):
            removed.append(Path(entry.path))
    return removed
