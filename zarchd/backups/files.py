"""Reading finished database files (backups, copies): hashing and schema version, never writing.

Their integrity check is registry.check_file(path, static=True)."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

from zarchd.core.errors import RegistryError, UnsafePath
from zarchd.core.fsutil import open_trusted
from zarchd.core.progress import Progress, Stage, no_progress
from zarchd.db.registry import open_static
from zarchd.migrations.ledger import read_applied
from zarchd.migrations.ledger import schema_version as version_of

CHUNK = 1 << 20


def sha256_file(path: Path, *, of: str | None = None, progress: Progress = no_progress) -> str:
    return sha256_and_size(path, of=of, progress=progress)[0]


def sha256_and_size(
    path: Path,
    *,
    expect: tuple[int, int] | None = None,
    of: str | None = None,
    progress: Progress = no_progress,
) -> tuple[str, int]:
    """sha256 and size of the file actually opened: never through a symlink, never another
    user's file, and (with `expect`, its listed (dev, ino)) the very file that was listed;
    UnsafePath otherwise."""
    fd = open_trusted(path, os.O_RDONLY, "the backup")
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if expect is not None and (st.st_dev, st.st_ino) != expect:
            raise UnsafePath(f"{path} was replaced since it was listed; not used")
        digest = hashlib.sha256()
        done = 0
        with Stage(progress, "hash", total=st.st_size, of=of) as stage:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                done += len(chunk)
                stage.update(done)
            stage.end(done)  # the bytes read: the file may have grown since fstat
    return digest.hexdigest(), done


SQLITE_HEADER = b"SQLite format 3\x00"


def not_a_database(path: Path) -> str | None:
    """Why the file cannot be a backup of a registry, or None: SQLite reads an empty file (or
    one cut short before its header) as a sound empty database, and a registry with data is
    never backed up empty (emptiness.py), so such a "backup" is a copy that went wrong."""
    fd = open_trusted(path, os.O_RDONLY, "the backup")
    try:
        head = os.pread(fd, len(SQLITE_HEADER), 0)
    finally:
        os.close(fd)
    if not head:
        return "the file is empty"
    if head != SQLITE_HEADER:
        return "the file does not start with SQLite's header"
    return None


def schema_version(path: Path) -> str | None:
    """7zarch-go's schema version of the file (the most recently applied row, see
    migrations.ledger.schema_version), None when there is none."""
    try:
        conn = open_static(path)
        try:
            applied = [a for a in read_applied(conn) if not a.inferred]
        finally:
            conn.close()
    except (sqlite3.Error, RegistryError):
        return None
    return version_of(applied)
