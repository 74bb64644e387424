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

_NAME = re.compile(r"thinfile-([a-z]+)-(\d+)-[A-Za-z0-9_]+")


def scratch_prefix(kind: str) -> str:
    """The prefix for a scratch folder of this process (`tempfile.mkdtemp(prefix=...)` adds the random part)."""
    return f"thinfile-{kind}-{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


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
        if found is None or _alive(int(found[2])):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or now - entry.stat().st_mtime < settings.orphan_age_s:
                continue
        except OSError:
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        if not os.path.exists(entry.path):
            removed.append(Path(entry.path))
    return removed
