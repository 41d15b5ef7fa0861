"""A copied backup checked and published in a thread of its own (migrations overlap it with
their first step, whose COMMIT waits for it: see migrations/gate.py)."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from zarchd.backups.meta import BackupInfo
from zarchd.backups.take import CopiedBackup
from zarchd.core.progress import no_progress


def finish_in_background(copied: CopiedBackup) -> Future[BackupInfo]:
    """Start `copied.finish()` now; the future has its BackupInfo or what it raised. Its
    stages are not reported from that thread (they would interleave with the caller's): the
    caller reports the wait instead."""
    pool = ThreadPoolExecutor(1, thread_name_prefix="zarchd-backup-check")
    try:
        future = pool.submit(copied.finish, no_progress)
    finally:
        pool.shutdown(wait=False)  # the thread ends with finish(); nothing else is queued
    return future
