"""A cheap "has the registry changed?" token: file stats and header bytes, never a full read.

Rollback-journal commits rewrite registry.db (mtime, size, the change counter at byte 24).
WAL commits only append to registry.db-wal, so its size, mtime and header (salts change when
the WAL restarts after a checkpoint) are part of the token too.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..errors import RegistryError
from ..registry import wal_path


def _stat_part(path: Path, header_bytes: int) -> str:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "-"
    if st.st_size == 0:  # an empty -wal (a reader opened the db) holds no commit
        return "-"
    try:
        with open(path, "rb") as fh:
            head = fh.read(header_bytes)
    except OSError:
        head = b""
    return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{head.hex()}"


def fingerprint(registry: Path) -> str:
    """Changes whenever a commit lands (rollback journal or WAL); RegistryError if missing."""
    if not registry.exists():
        raise RegistryError(f"the registry {registry} does not exist")
    parts = [_stat_part(registry, 100), _stat_part(wal_path(registry), 32)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]
