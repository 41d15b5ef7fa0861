"""Take one backup: an online, consistent, verified copy published under a backup name.

The copy is made with `VACUUM INTO` from a READ-ONLY connection to the registry:
- one statement, one read transaction, so commits from other processes never restart it (a
  step-wise backup never finished under a writer) and commits still in registry.db-wal are in
  the copy (a raw file copy lost them);
- a progress handler on that connection aborts it past the deadline, which
  `backup(pages=-1)` cannot do (benchmarks/backup.py compares the two);
- a read-only connection never checkpoints the application's WAL, also not when it closes.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from zarchd import __version__
from zarchd.backups import files, names
from zarchd.backups.emptiness import empty_registry_problem
from zarchd.backups.meta import BackupInfo, info_from
from zarchd.backups.storage import BackupStore, as_store
from zarchd.backups.temps import TEMP_PREFIX, remove_temps, temp_name_pattern
from zarchd.core.clock import Clock, iso, utcnow
from zarchd.core.errors import BackupError, Cancelled, IntegrityFailure, RegistryError
from zarchd.core.fsutil import fsync_file
from zarchd.core.progress import Progress, Stage, no_progress
from zarchd.db.fingerprint import fingerprint
from zarchd.db.registry import check_file, companions, connect, is_busy

__all__ = [  # TEMP_PREFIX and temp_name_pattern moved to temps; imported from here before
    "TEMP_PREFIX",
    "remove_stale_temps",
    "remove_temp_files",
    "take_backup",
    "temp_name_pattern",
]
PROGRESS_OPS = 10_000  # VM instructions between deadline checks
CANCELLED = "backup cancelled: zarchd is stopping; nothing was published"


def take_backup(
    registry: Path,
    store: BackupStore | Path,
    *,
    now: Clock = utcnow,
    deadline_s: float = 600.0,
    progress: Progress = no_progress,
    reason: str = "manual",
    cancel: threading.Event | None = None,
) -> BackupInfo:
    """Copy, check and publish a backup of `registry` into `store`; always taken.

    Setting `cancel` (the daemon is stopping) aborts the copy: Cancelled, nothing published.
    """
    if not registry.is_file():
        raise BackupError(f"the registry {registry} does not exist; nothing to back up")
    store = as_store(store)
    empty = empty_registry_problem(registry, store)
    if empty:  # SQLite would read it as a sound empty database: never back that up
        raise IntegrityFailure(f"registry is damaged, no backup taken: {empty}")
    stem = names.stem_of(registry)
    store.prepare()  # created, and nobody else may plant or swap files where we write
    store.remove_temps(stem, older_than_s=2 * deadline_s + 300)
    _check_cancel(cancel)
    started = now()
    token = fingerprint(registry)  # before the copy: a commit during the copy means "changed"
    try:
        with store.temp_file(stem) as tmp:
            try:
                _copy(registry, tmp, deadline_s, progress, cancel)
            finally:  # a failed VACUUM INTO leaves its own rollback journal behind
                for leftover in companions(tmp):
                    leftover.unlink(missing_ok=True)
            with Stage(progress, "fsync"):
                fsync_file(tmp)
            with Stage(progress, "check"):  # integrity_check reports nothing until it is done
                problems = _check_copy(tmp)
            if problems != ["ok"]:
                raise IntegrityFailure(
                    f"registry is damaged, no backup taken (integrity check of its copy: "
                    f"{'; '.join(problems[:3])}); run `zarchctl recover`"
                )
            os.chmod(tmp, 0o600)
            meta: dict[str, Any] = {
                "created_at": iso(started, precise=True),
                "size_bytes": tmp.stat().st_size,
                "sha256": files.sha256_file(tmp, progress=progress),
                "schema_version": files.schema_version(tmp),
                "fingerprint": token,
                "source": str(registry.absolute()),
                "zarchd_version": __version__,
                "reason": reason,
                "verified": True,
                "verified_at": iso(now()),
            }
            _check_cancel(cancel)
            name = store.put(tmp, _candidates(stem, started, meta), meta)
    except OSError as exc:
        raise BackupError(_os_message(exc, store)) from exc
    return info_from(store.location(name), meta, started, meta["size_bytes"])


def _cancelled(cancel: threading.Event | None) -> bool:
    return cancel is not None and cancel.is_set()


def _check_cancel(cancel: threading.Event | None) -> None:
    if _cancelled(cancel):
        raise Cancelled(CANCELLED)


def _check_copy(tmp: Path) -> list[str]:
    try:
        return check_file(tmp, static=True)
    except RegistryError as exc:  # our own fresh file: unreadable means a disk problem
        raise BackupError(
            f"cannot read back the backup copy {tmp}: {exc.message}; older backups are intact"
        ) from exc


def _copy(
    registry: Path, tmp: Path, deadline_s: float, progress: Progress, cancel: threading.Event | None
) -> None:
    stop_at = time.monotonic() + deadline_s
    copy = Stage(progress, "copy")

    def stop() -> int:  # non-zero aborts VACUUM INTO with "interrupted"
        copy.update(_written(tmp))  # the copy's size so far is how far VACUUM INTO got
        return 1 if _cancelled(cancel) or time.monotonic() > stop_at else 0

    try:
        src = connect(registry, readonly=True, timeout=max(0.1, min(deadline_s, 30.0)))
    except RegistryError as exc:
        raise BackupError(exc.message) from exc
    try:
        copy.total = _page_count(src) * src.execute("PRAGMA page_size").fetchone()[0]
        with copy:
            src.set_progress_handler(stop, PROGRESS_OPS)
            src.execute("VACUUM INTO ?", (str(tmp),))
            copy.end(_written(tmp))
    except sqlite3.OperationalError as exc:
        text = str(exc)
        if "interrupted" in text:
            if _cancelled(cancel):
                raise Cancelled(CANCELLED) from exc
            raise Cancelled(
                f"backup of {registry} did not finish within {deadline_s:g}s; "
                f"nothing was published (raise the deadline or check the disk)"
            ) from exc
        if "full" in text or "I/O" in text or "unable to open" in text:
            raise BackupError(
                f"cannot write the backup in {tmp.parent}: {text} "
                f"(disk full or no permission?); older backups are intact"
            ) from exc
        if is_busy(exc):
            raise BackupError(
                f"the registry {registry} stayed locked by another process; try again later"
            ) from exc
        raise _damaged(exc) from exc
    except sqlite3.DatabaseError as exc:
        raise _damaged(exc) from exc
    finally:
        src.close()


def _damaged(exc: Exception) -> IntegrityFailure:
    return IntegrityFailure(f"registry is damaged, no backup taken ({exc}); run `zarchctl recover`")


def _written(tmp: Path) -> int:
    try:
        return tmp.stat().st_size
    except OSError:
        return 0


def _page_count(conn: sqlite3.Connection) -> int:
    try:
        return int(conn.execute("PRAGMA page_count").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        if is_busy(exc):
            raise  # a lock held past the timeout, not damage: _copy says so
        raise _damaged(exc) from exc


def _candidates(stem: str, started: datetime, meta: dict[str, Any]) -> Iterator[str]:
    """Names for the backup in the order to try them; records the offset they were made in."""
    local = started.astimezone(names.local_tz())
    # The offset the name was made in: the name still checks out after a change of time zone.
    meta["utc_offset_s"] = int((local.utcoffset() or timedelta(0)).total_seconds())
    return names.candidates(stem, local)


def remove_stale_temps(backup_dir: Path, stem: str, older_than_s: float) -> list[Path]:
    """Temp files a killed run left behind (only ours, only old ones: a live run keeps writing)."""
    return remove_temps(backup_dir, stem, time.time() - older_than_s)


def remove_temp_files(backup_dir: Path, stem: str) -> list[Path]:
    """Every temp file zarchd makes for `stem` in `backup_dir`, whatever its age.

    Only safe while holding the registry's writer lock (no other zarchd run can be writing
    one): the daemon calls it at start. Covers backup copies (`.zarchd-<stem>-XXXXXXXX.bak.tmp`),
    half-written sidecars (`.<backup name>.json.XXXXXXXX.tmp`) and restore/salvage copies
    (`.zarchd-restore-<stem>-XXXXXXXX.tmp`, `.zarchd-salvage-...`), with their -journal/-wal/-shm.
    Restore/salvage copies live in the registry's directory: call it for that directory too
    when backups go elsewhere.
    """
    return remove_temps(backup_dir, stem, None)


def _os_message(exc: OSError, store: BackupStore) -> str:
    why = {
        errno.ENOSPC: "the disk is full",
        errno.EFBIG: "the file size limit was reached",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EROFS: "the file system is read-only",
        errno.EDQUOT: "the disk quota is exceeded",
    }
    reason = why.get(exc.errno or 0, exc.strerror or str(exc))
    return f"cannot write the backup in {store}: {reason}; older backups are intact"
