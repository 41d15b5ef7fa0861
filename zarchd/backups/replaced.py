"""A backup of ours under an old-style name that 7zarch-go has since overwritten.

Before backup names carried the `-zarchd` marker, zarchd named backups exactly as 7zarch-go's
`db backup` does, and 7zarch-go opens that name with O_TRUNC: in the same second it replaced our
file with its own backup, leaving our sidecar beside it. Such a file is 7zarch-go's now: it is
listed as such (never ours, never deleted, never "BAD"), and can be restored as 7zarch-go's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # storage imports nothing of this module; only the types are needed here
    from zarchd.backups.storage import BackupStore, StoredBackup

SQLITE_MAGIC = b"SQLite format 3\x00"


def is_sqlite_file(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def replaced_by_other(store: BackupStore, stored: StoredBackup, meta: dict[str, Any]) -> bool:
    """True when the file under an old-style name is no longer the one our sidecar describes but
    a SQLite database someone else wrote there. Hashes only when there is a reason to doubt: the
    size differs or the file was written after its sidecar (ours is complete before the sidecar is
    written). A file merely damaged in place keeps its mtime and stays ours, and "BAD"."""
    if meta.get("size_bytes") != stored.size:
        with store.open(stored.name) as path:
            return is_sqlite_file(path)
    if stored.sidecar_mtime_ns is None or stored.mtime_ns <= stored.sidecar_mtime_ns:
        return False  # not written after its sidecar
    # Imported here: files pulls in the migration ledger, and this runs only for a backup in doubt
    from zarchd.backups.files import sha256_file

    try:
        with store.open(stored.name) as path:
            return sha256_file(path) != meta.get("sha256") and is_sqlite_file(path)
    except OSError:
        return False
