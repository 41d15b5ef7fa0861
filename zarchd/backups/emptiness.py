"""A zero-length registry where a registry with data was is damage, not an empty database.

SQLite reads a 0-byte file as a sound, empty database, so checks pass and a backup of it would
be "verified". Backups of the registry with data in them prove it had content.
"""

from __future__ import annotations

import os
from pathlib import Path

from zarchd.backups.listing import list_backups
from zarchd.backups.storage import BackupStore
from zarchd.db.registry import wal_path


def backed_up_with_data(registry: Path, store: BackupStore | Path) -> bool:
    """zarchd (or 7zarch-go) holds a non-empty backup of this registry."""
    try:
        return any(b.size_bytes > 0 for b in list_backups(registry, store))
    except OSError:
        return False


def is_empty_file(registry: Path) -> bool:
    """0 bytes and no WAL content (a new WAL database may keep its pages in -wal for a while)."""
    try:
        if os.stat(registry).st_size != 0:
            return False
    except OSError:
        return False
    try:
        return os.stat(wal_path(registry)).st_size == 0
    except OSError:
        return True


def empty_registry_problem(
    registry: Path, store: BackupStore | Path, *, had_data: bool = False
) -> str | None:
    """Why an empty registry file is damage, or None (not empty, or never had data)."""
    if not is_empty_file(registry):
        return None
    if not (had_data or backed_up_with_data(registry, store)):
        return None
    return (
        f"the registry {registry} is empty (0 bytes) but held data before (there are "
        f"backups of it); run `zarchctl recover` to restore the newest good backup"
    )
