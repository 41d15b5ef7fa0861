"""zarchd's own temp files (copies being made, half-written sidecars, restore/salvage copies).

They are work in progress on this machine, never backups: whatever the backup store, a copy is
made and checked in a local temp file first. Backup copies and sidecars live in a local backup
directory (LocalDirectory); restore/salvage copies live in the registry's directory.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import stat
from pathlib import Path

from zarchd.backups import names
from zarchd.core.fsutil import trusted_uids
from zarchd.db.registry import COMPANIONS

TEMP_PREFIX = ".zarchd-"  # temp files: `.zarchd-<stem>-XXXX.bak.tmp`, never a backup name
SALVAGE_DIR_SUFFIX = ".salvage.d"  # salvage's private work directory (recover.salvage_dir)
FETCH_DIR_SUFFIX = ".fetch.d"  # a copy fetched from a remote (downloaded.fetch_dir)


def temp_name_pattern(stem: str) -> re.Pattern[str]:
    """Names of zarchd's temp files for `stem` (tempfile.mkstemp adds 8 of [a-z0-9_])."""
    copies = (
        rf"{re.escape(TEMP_PREFIX)}(?:restore-|salvage-)?{re.escape(stem)}-"
        rf"[a-z0-9_]{{8}}(?:\.bak)?\.tmp(?:{'|'.join(map(re.escape, COMPANIONS))})?"
    )
    sidecars = rf"\.{names.pattern(stem).pattern}\{names.SIDECAR}\.[a-z0-9_]{{8}}\.tmp"  # fsutil
    return re.compile(f"{copies}|{sidecars}")


def salvage_dir_pattern(stem: str) -> re.Pattern[str]:
    """Names of salvage's private work directories for `stem` (tempfile.mkdtemp)."""
    return re.compile(
        rf"{re.escape(TEMP_PREFIX)}salvage-{re.escape(stem)}-[a-z0-9_]{{8}}"
        rf"{re.escape(SALVAGE_DIR_SUFFIX)}"
    )


def fetch_dir_pattern(stem: str) -> re.Pattern[str]:
    """Names of the private directories a copy fetched from a remote is held in (mkdtemp)."""
    return re.compile(
        rf"{re.escape(TEMP_PREFIX)}fetch-{re.escape(stem)}-[a-z0-9_]{{8}}"
        rf"{re.escape(FETCH_DIR_SUFFIX)}"
    )


def remove_temps(directory: Path, stem: str, cutoff: float | None) -> list[Path]:
    """Ours only (exact name pattern, regular files); with `cutoff` only older ones and only
    backup copies (a restore in another process may be running)."""
    removed: list[Path] = []
    match = temp_name_pattern(stem).fullmatch
    try:
        entries = sorted(directory.iterdir())
    except OSError:
        return removed
    for path in entries:
        work_dir = salvage_dir_pattern(stem).fullmatch(path.name) or fetch_dir_pattern(
            stem
        ).fullmatch(path.name)
        if cutoff is None and work_dir:
            with contextlib.suppress(OSError):
                st = path.lstat()  # ours only, never through a symlink
                if stat.S_ISDIR(st.st_mode) and st.st_uid in trusted_uids():
                    shutil.rmtree(path)
                    removed.append(path)
            continue
        if not match(path.name) or (
            cutoff is not None and not path.name.startswith(f"{TEMP_PREFIX}{stem}-")
        ):
            continue
        with contextlib.suppress(OSError):
            if (
                path.is_file()
                and not path.is_symlink()
                and (cutoff is None or path.stat().st_mtime < cutoff)
            ):
                path.unlink()
                removed.append(path)
    return removed
