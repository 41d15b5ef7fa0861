"""Reading finished database files (backups, copies): hashing and schema version, never writing.

Their integrity check is registry.check_file(path, static=True)."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from ..errors import RegistryError
from ..migrations.ledger import read_applied
from ..migrations.ledger import schema_version as version_of
from ..progress import Progress, no_progress
from ..registry import open_static

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
