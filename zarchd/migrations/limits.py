"""How long one migration step may run: `migrations.timeout` per 64 MiB of registry.

A fixed limit made large registries unmigratable (0002 on 1M rows outgrew the default 30 s, so
no upgrade could ever finish with the defaults). The work of a step grows with the registry, so
its limit does too; a step that is stuck (a runaway query) is still interrupted, only later on a
larger registry. Lock waits are bounded separately by the connection's busy timeout.

Why 64 MiB: on this project's shared 2-core test machine, under load, 0002 on a 226 MB registry
(1M rows) took 20 s; 30 s per 64 MiB gives it 105 s, room for a machine five times slower.
"""

from __future__ import annotations

import sqlite3

UNIT_BYTES = 64 * 1024 * 1024  # the registry size one `migrations.timeout` covers
UNIT_LABEL = "64 MiB"


def step_limit(timeout: float, registry_bytes: int) -> float:
    """The wall-time limit of one step: `timeout` for each UNIT_BYTES, at least `timeout`."""
    return timeout * max(1.0, registry_bytes / UNIT_BYTES)


def registry_bytes(conn: sqlite3.Connection) -> int:
    """The database's size as SQLite sees it (pages written in a WAL included)."""
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    return int(pages) * int(size)


def describe(limit: float, timeout: float) -> str:
    """The limit as a timeout message says it."""
    if limit == timeout:
        return f"{timeout:g}s"
    return f"{limit:.0f}s (migrations.timeout {timeout:g}s per {UNIT_LABEL} of registry)"
