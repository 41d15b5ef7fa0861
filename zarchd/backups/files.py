"""Reading finished database files (backups, copies): hashing and integrity, never writing."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from ..progress import Progress, no_progress

CHUNK = 1 << 20


def sha256_file(path: Path, *, stage: str = "hash", progress: Progress = no_progress) -> str:
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if done % (64 * CHUNK) < CHUNK:  # about every 64 MiB
                progress({"stage": stage, "step": "hash", "done": done, "total": total})
    return digest.hexdigest()


def open_static(path: Path) -> sqlite3.Connection:
    """Open a file nobody writes (a backup, our own temp copy): read-only and immutable.

    `immutable=1` also stops SQLite from creating -wal/-shm files next to a backup that
    7zarch-go copied from a WAL-mode registry.
    """
    quoted = str(path.absolute()).replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    return sqlite3.connect(f"file:{quoted}?mode=ro&immutable=1", uri=True, isolation_level=None)


def integrity(path: Path) -> list[str]:
    """['ok'] for a sound database file, else what SQLite reports; never raises."""
    try:
        conn = open_static(path)
    except sqlite3.Error as exc:
        return [f"cannot open: {exc}"]
    try:
        return [row[0] for row in conn.execute("PRAGMA integrity_check(20)")]
    except sqlite3.DatabaseError as exc:
        return [f"{type(exc).__name__}: {exc}"]
    finally:
        conn.close()


def schema_version(path: Path) -> str | None:
    """The highest id in schema_migrations (7zarch-go's ids sort), None when there is none."""
    try:
        conn = open_static(path)
        try:
            row = conn.execute("SELECT max(id) FROM schema_migrations").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return None if row is None or row[0] is None else str(row[0])
