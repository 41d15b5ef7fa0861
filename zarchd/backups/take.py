"""Take one backup: an online, consistent, verified copy published under a backup name.

- the copy (snapshot.py): a consistent snapshot of committed data (WAL included), writers
  blocked at most as long as `cp` of the file takes, cancel and deadline honoured;
- verified before it counts: `quick_check` on every backup, the full `integrity_check` when
  none was done within `full_check_every_s` (the sidecar says which check it got), in parallel
  with the sha256 and the fsync of the copy;
- identical to the previous backup (dedupe.py): published as a hard link to it, own sidecar;
- published by a link that never overwrites, the directory fsynced, the sidecar first (a name
  with a backup file is only ours once both are there).
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from zarchd import __version__
from zarchd.backups import files, names
from zarchd.backups.checkplan import full_check_due
from zarchd.backups.dedupe import previous_backup, same_content
from zarchd.backups.emptiness import empty_registry_problem
from zarchd.backups.hashfollow import HashFollower
from zarchd.backups.listing import list_backups
from zarchd.backups.meta import BackupInfo, info_from
from zarchd.backups.snapshot import CANCELLED, cancelled, copy_snapshot
from zarchd.backups.storage import BackupStore, as_store
from zarchd.backups.temps import TEMP_PREFIX, remove_temps, temp_name_pattern
from zarchd.core.clock import Clock, iso, utcnow
from zarchd.core.errors import BackupError, Cancelled, IntegrityFailure, RegistryError
from zarchd.core.progress import Progress, Stage, no_progress
from zarchd.core.writeback import fsync_in_steps
from zarchd.db.fingerprint import fingerprint
from zarchd.db.registry import companions, integrity_check, open_static

__all__ = [  # TEMP_PREFIX and temp_name_pattern moved to temps; imported from here before
    "TEMP_PREFIX",
    "CopiedBackup",
    "begin_backup",
    "remove_stale_temps",
    "remove_temp_files",
    "take_backup",
    "temp_name_pattern",
]
DEFAULT_FULL_CHECK_EVERY_S = 7 * 86400.0  # [backup] full_check_every
# Up to this size the full check costs well under a second: every such backup gets it.
ALWAYS_FULL_CHECK_MAX = 64 * 1024 * 1024
MMAP_BYTES = 1 << 30  # SQLite caps it at its own limit (2 GB by default)


def take_backup(
    registry: Path,
    store: BackupStore | Path,
    *,
    now: Clock = utcnow,
    deadline_s: float = 600.0,
    progress: Progress = no_progress,
    reason: str = "manual",
    cancel: threading.Event | None = None,
    full_check_every_s: float = DEFAULT_FULL_CHECK_EVERY_S,
    in_process_max: int | None = None,
    always_full_max: int = ALWAYS_FULL_CHECK_MAX,
) -> BackupInfo:
    """Copy, check and publish a backup of `registry` into `store`; always taken.

    Setting `cancel` (the daemon is stopping) aborts the copy: Cancelled, nothing published.
    `full_check_every_s`: the full integrity_check when no backup taken within this long got
    one (0: every backup), else quick_check; copies up to `always_full_max` bytes always get it.
    `in_process_max`: see snapshot.copy_snapshot.
    """
    return begin_backup(
        registry,
        store,
        now=now,
        deadline_s=deadline_s,
        progress=progress,
        reason=reason,
        cancel=cancel,
        full_check_every_s=full_check_every_s,
        in_process_max=in_process_max,
        always_full_max=always_full_max,
    ).finish()


class CopiedBackup:
    """A backup whose copy is made, not yet checked nor published (begin_backup).

    `finish()` checks and publishes it, `discard()` drops it; either releases the temp file,
    and only one of them runs, once. A copy that is never finished is never a backup: the temp
    file goes, or, after a crash, the next run's remove_temps takes it.
    """

    def __init__(
        self,
        *,
        stack: ExitStack,
        store: BackupStore,
        tmp: Path,
        hashing: HashFollower,
        full: bool,
        always_full_max: int,
        token: str | None,
        source: str,
        reason: str,
        existing: list[BackupInfo],
        started: datetime,
        stem: str,
        now: Clock,
        progress: Progress,
        cancel: threading.Event | None,
    ) -> None:
        self._stack = stack
        self._store = store
        self._tmp = tmp
        self._hashing = hashing
        self._full = full
        self._always_full_max = always_full_max
        self._token = token
        self._source = source
        self._reason = reason
        self._existing = existing
        self._started = started
        self._stem = stem
        self._now = now
        self._progress = progress
        self._cancel = cancel

    def finish(self, progress: Progress | None = None) -> BackupInfo:
        """Check, fsync and publish the copy; IntegrityFailure when the check fails.
        `progress` replaces the one given to begin_backup (another thread: its own sink)."""
        store, tmp = self._store, self._tmp
        try:
            with self._stack:
                size = tmp.stat().st_size
                wrong = files.not_a_database(tmp)
                if wrong is not None:  # the registry is not empty: a copy went wrong
                    raise BackupError(
                        f"the copy of {self._source} is not a database ({wrong}); nothing "
                        "was published, older backups are intact"
                    )
                full = self._full or size <= self._always_full_max
                # check, sha256 and fsync at once; no progress inside
                with Stage(self._progress if progress is None else progress, "check"):
                    problems, digest = _verify_copy(tmp, size, full, self._hashing)
                if problems != ["ok"]:
                    raise IntegrityFailure(
                        "registry is damaged, no backup taken "
                        f"({'integrity' if full else 'quick'} check of its copy: "
                        f"{'; '.join(problems[:3])}); run `zarchctl recover`"
                    )
                os.chmod(tmp, 0o600)
                meta: dict[str, Any] = {
                    "created_at": iso(self._started, precise=True),
                    "size_bytes": size,
                    "sha256": digest,
                    "schema_version": files.schema_version(tmp),
                    "fingerprint": self._token,
                    "source": self._source,
                    "zarchd_version": __version__,
                    "reason": self._reason,
                    "verified": True,
                    "verified_at": iso(self._now()),
                    "check": "integrity" if full else "quick",
                }
                _check_cancel(self._cancel)
                name = _publish(store, tmp, self._stem, self._started, meta, self._existing)
        except OSError as exc:
            raise BackupError(_os_message(exc, store)) from exc
        return info_from(store.location(name), meta, self._started, meta["size_bytes"])

    def discard(self) -> None:
        """Drop the copy unpublished (the change it was to protect will not be made)."""
        self._stack.close()


def begin_backup(
    registry: Path,
    store: BackupStore | Path,
    *,
    now: Clock = utcnow,
    deadline_s: float = 600.0,
    progress: Progress = no_progress,
    reason: str = "manual",
    cancel: threading.Event | None = None,
    full_check_every_s: float = DEFAULT_FULL_CHECK_EVERY_S,
    in_process_max: int | None = None,
    always_full_max: int = ALWAYS_FULL_CHECK_MAX,
) -> CopiedBackup:
    """The first half of take_backup: the consistent copy of `registry`, made now; the check
    and publication wait for CopiedBackup.finish (which may run in another thread, e.g. while
    a migration works on the registry: the copy already holds the state before it)."""
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
    existing = list_backups(registry, store)
    full = full_check_due(existing, started, full_check_every_s)
    token = fingerprint(registry)  # before the copy: a commit during the copy means "changed"
    stack = ExitStack()
    try:
        tmp = stack.enter_context(store.temp_file(stem))
        hashing = stack.enter_context(HashFollower(tmp))  # stops before the temp file goes
        try:
            extra = {} if in_process_max is None else {"in_process_max": in_process_max}
            copy_snapshot(
                registry,
                tmp,
                deadline_s=deadline_s,
                progress=progress,
                cancel=cancel,
                copied=hashing.advance,
                **extra,
            )
        finally:  # a failed copy leaves its own rollback journal behind
            for leftover in companions(tmp):
                leftover.unlink(missing_ok=True)
    except OSError as exc:
        stack.close()
        raise BackupError(_os_message(exc, store)) from exc
    except BaseException:
        stack.close()
        raise
    return CopiedBackup(
        stack=stack,
        store=store,
        tmp=tmp,
        hashing=hashing,
        full=full,
        always_full_max=always_full_max,
        token=token,
        source=str(registry.absolute()),
        reason=reason,
        existing=existing,
        started=started,
        stem=stem,
        now=now,
        progress=progress,
        cancel=cancel,
    )


def _verify_copy(tmp: Path, size: int, full: bool, hashing: HashFollower) -> tuple[list[str], str]:
    """(problems of the check, sha256 of its `size` bytes) of the copy, fsynced: the three in
    parallel (SQLite and hashlib release the GIL; the file is still in the page cache). The
    hash mostly followed the copy already (hashfollow.py)."""
    with ThreadPoolExecutor(2, thread_name_prefix="zarchd-verify") as pool:
        synced = pool.submit(fsync_in_steps, tmp)  # writers never queue behind all of it
        hashed = pool.submit(hashing.result, size)
        problems = _check_copy(tmp, full)
        synced.result()  # raises what fsync raised (EIO: the copy is not durable)
        return problems, hashed.result()


def _publish(
    store: BackupStore,
    tmp: Path,
    stem: str,
    started: datetime,
    meta: dict[str, Any],
    existing: list[BackupInfo],
) -> str:
    """Publish the verified copy; as a link to the previous backup when it is the same."""
    previous = previous_backup(existing)
    if (
        previous is not None
        and previous.ident is not None
        and same_content(tmp, meta["sha256"], meta["size_bytes"], previous)
    ):
        shared = {**meta, "same_as": previous.name}
        name = store.put_link(
            previous.name, previous.ident, _candidates(stem, started, shared), shared
        )
        if name is not None:
            meta.clear()
            meta.update(shared)
            return name
    return store.put(tmp, _candidates(stem, started, meta), meta)


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancelled(cancel):
        raise Cancelled(CANCELLED)


def _check_copy(tmp: Path, full: bool) -> list[str]:
    try:
        conn = open_static(tmp)
        try:
            # Read through a memory map (about a third faster than read() into SQLite's cache):
            # safe here, nobody else can shorten our own fresh temp file in a 0700 directory.
            conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
            return integrity_check(conn, quick=not full, what=f"the backup copy {tmp}")
        finally:
            conn.close()
    except RegistryError as exc:  # our own fresh file: unreadable means a disk problem
        raise BackupError(
            f"cannot read back the backup copy {tmp}: {exc.message}; older backups are intact"
        ) from exc


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
