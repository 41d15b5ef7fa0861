"""Sidecars left without their backup (issue 9, defect 11).

A kill -9 between writing the sidecar and linking the backup, or in the middle of a prune, leaves
`<name>.json` alone; `next_free` then skips that name forever. They are removed only by the
holder of the registry's writer lock (no zarchd is then half-way through publishing one), and
only ours: a regular file owned by zarchd's user, our FORMAT for exactly that name, no backup
(nor anything else) at the name beside it.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from pathlib import Path

from zarchd.backups import names
from zarchd.backups.meta import read_sidecar


def remove_orphan_sidecars(
    backup_dir: Path, stem: str, older_than_s: float | None = None
) -> list[Path]:
    """Remove our sidecars whose backup is gone; with `older_than_s` only older ones."""
    removed: list[Path] = []
    cutoff = None if older_than_s is None else time.time() - older_than_s
    try:
        entries = list(os.scandir(backup_dir))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.endswith(names.SIDECAR):
            continue
        backup_name = entry.name[: -len(names.SIDECAR)]
        if names.parse(stem, backup_name) is None:
            continue
        backup = Path(backup_dir) / backup_name
        with contextlib.suppress(OSError):
            st = entry.stat(follow_symlinks=False)
            if (
                not stat.S_ISREG(st.st_mode)
                or st.st_uid != os.geteuid()
                or (cutoff is not None and st.st_mtime >= cutoff)
                or os.path.lexists(backup)
                or read_sidecar(backup) is None
            ):
                continue
            os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed
