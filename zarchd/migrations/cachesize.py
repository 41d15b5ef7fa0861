"""The page caches of the migrating connection: sized to the registry, bounded by free memory.

SQLite's default cache is 2 MB. A step that rewrites every row of a 226 MB archives table (0002's
backfill, 0003's fill) then keeps spilling dirty pages to the file mid-transaction, and reads
them back for the next statement (the index builds, the quick_check of its validation: 0.34 s
against 0.22 s from the cache at 1M rows); the backfill's temp tables (about 40 MB at 1M rows)
spill to a temp file. SQLite allocates cache pages only as it fills them, so the size is a
ceiling, not an allocation.

The bounds: never more than twice the registry (what a step may add: 0002 gives every row a
uid and builds two indexes; a 226 MB registry ends at 439 MB), nor a quarter of the memory the
machine has available (the rest stays with 7zarch-go, the backup's check beside the first step,
and the OS page cache that holds the file anyway), nor 1 GiB; the temp cache at most a quarter
of that. On a small machine (200 MB available) that is 50 MB: slower, never out of memory.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

MAX_BYTES = 1 << 30
SHARE_OF_AVAILABLE = 4  # at most 1/4 of the available memory
DEFAULT_BYTES = 2_048_000  # SQLite's own default (cache_size -2000): never go below it
_MEMINFO = Path("/proc/meminfo")
_UNKNOWN_AVAILABLE = 256 << 20  # no way to ask (not Linux, no sysconf): assume a small machine


def cache_bytes(registry_bytes: int, available_bytes: int) -> int:
    """The main cache's ceiling for a registry of `registry_bytes` (see the module docstring)."""
    wanted = 2 * registry_bytes
    return max(DEFAULT_BYTES, min(wanted, available_bytes // SHARE_OF_AVAILABLE, MAX_BYTES))


def size_caches(conn: sqlite3.Connection, registry_bytes: int) -> None:
    """Set the main and temp page caches of `conn` (outside a transaction, before the work)."""
    main = cache_bytes(registry_bytes, available_memory())
    temp = max(DEFAULT_BYTES, main // 4)
    # Negative: in KiB, whatever the page size.
    conn.execute(f"PRAGMA main.cache_size = {-(main // 1024)}")
    conn.execute(f"PRAGMA temp.cache_size = {-(temp // 1024)}")


def available_memory(meminfo: Path = _MEMINFO) -> int:
    """Bytes of memory available without swapping: Linux's MemAvailable, else a quarter of the
    physical memory, else a small machine's."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024  # "MemAvailable:  23362000 kB"
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 4
    except (OSError, ValueError, AttributeError):
        return _UNKNOWN_AVAILABLE
