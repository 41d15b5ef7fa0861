"""A backup of ours under an old-style name that 7zarch-go has since overwritten.

Before backup names carried the `-zarchd` marker, zarchd named backups exactly as 7zarch-go's
`db backup` does, and 7zarch-go opens that name with O_TRUNC: in the same second it replaced our
file with its own backup, leaving our sidecar beside it. Such a file is 7zarch-go's now: it is
listed as such (never ours, never deleted, never "BAD"), and can be restored as 7zarch-go's.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from zarchd.backups.files import sha256_file
from zarchd.backups.names import sidecar_path

SQLITE_MAGIC = b"SQLite format 3\x00"


def is_sqlite_file(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def replaced_by_other(path: Path, meta: dict[str, Any], st: os.stat_result) -> bool:
    """True when the file under an old-style name is no longer the one our sidecar describes but
    a SQLite database someone else wrote there. Hashes only when there is a reason to doubt: the
    size differs or the file was written after its sidecar (ours is complete before the sidecar is
    written). A file merely damaged in place keeps its mtime and stays ours, and "BAD"."""
    if meta.get("size_bytes") != st.st_size:
        return is_sqlite_file(path)
    try:
        written_after = st.st_mtime_ns > os.stat(sidecar_path(path)).st_mtime_ns
    except OSError:
        return False
    if not written_after:
        return False
    try:
        return sha256_file(path) != meta.get("sha256") and is_sqlite_file(path)
    except OSError:
        return False
