"""A cheap "has the registry changed?" token, from file stats only: never a read of the file.

No plain open() of the registry or its -wal: closing any descriptor of a file drops every POSIX
lock this process holds on it, SQLite's included, which let writers in mid-backup (issue 9).

Rollback-journal commits rewrite registry.db (its mtime/ctime, often its size); WAL commits
only write registry.db-wal (size, mtime/ctime; a restarted WAL keeps its size, not its times);
a replaced file changes inode. What stats cannot see is a commit that keeps the size and lands
in the same timestamp tick as the write before it, after the token was taken. So a token is
only taken once the newest timestamp is older than a few ticks (a short wait), and one taken
while the files keep changing is marked unsettled: it never equals any other token, so it can
only cause an extra backup, never a skipped one.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from pathlib import Path

from zarchd.core.errors import RegistryError
from zarchd.db.registry import wal_path

# Linux ticks (jiffies) are 1-10 ms: 50 ms is a 5x margin. Whole-second timestamps (ext3, HFS+,
# FAT) would need seconds: there a recent change just makes the token unsettled.
SETTLE_NS = 50_000_000
COARSE_SETTLE_NS = 2_500_000_000
SETTLE_TRIES = 2  # one short wait; a registry still changing after it is busy anyway


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def _part(st: os.stat_result | None, *, empty_is_absent: bool) -> str:
    if st is None or (empty_is_absent and st.st_size == 0):
        return "-"  # an empty -wal (a reader opened the db) holds no commit
    return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def _unsettled_for(stats: list[os.stat_result], now_ns: int) -> int:
    """How long (ns) until the newest timestamp is safely in the past; 0 when it already is."""
    newest = max(max(st.st_mtime_ns, st.st_ctime_ns) for st in stats)
    coarse = all(max(st.st_mtime_ns, st.st_ctime_ns) % 1_000_000_000 == 0 for st in stats)
    return max(0, newest + (COARSE_SETTLE_NS if coarse else SETTLE_NS) - now_ns)


def fingerprint(registry: Path) -> str:
    """Changes whenever a commit lands (rollback journal or WAL); RegistryError if missing."""
    for _ in range(SETTLE_TRIES):
        db, wal = _stat(registry), _stat(wal_path(registry))
        if db is None:
            raise RegistryError(f"the registry {registry} does not exist")
        parts = [_part(db, empty_is_absent=False), _part(wal, empty_is_absent=True)]
        wait = _unsettled_for([st for st in (db, wal) if st is not None], time.time_ns())
        if wait == 0:
            break
        if wait > SETTLE_NS:  # whole-second timestamps: do not sleep for seconds
            parts.append(f"unsettled:{uuid.uuid4().hex}")
            break
        time.sleep(wait / 1e9)
    else:  # still changing: a busy registry, never "unchanged"
        parts.append(f"unsettled:{uuid.uuid4().hex}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]
