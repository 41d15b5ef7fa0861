"""Identical backups stored once: a new copy equal to the previous backup becomes a hard link.

Only when the previous backup is ours, verified, listed and trusted, its recorded sha256 and
size equal the new copy's, and its bytes (read through a descriptor of the very file listed)
equal the new copy's: a recorded hash alone never decides. Each name keeps its own sidecar,
so listing, retention (deleting one name unlinks only that name), verification and restore
treat each name as a backup. Nothing in zarchd writes a backup in place (restore and recover
copy out of it), so a shared file never changes under the other name.
"""

from __future__ import annotations

import os
from pathlib import Path

from zarchd.backups.meta import BackupInfo
from zarchd.core.errors import UnsafePath
from zarchd.core.fsutil import open_trusted

CHUNK = 1 << 20


def previous_backup(existing: list[BackupInfo]) -> BackupInfo | None:
    """The newest backup a new one may share its file with, or None."""
    ours = [b for b in existing if b.ours and not b.untrusted]
    if not ours or ours[-1].verified is not True or not ours[-1].sha256:
        return None
    return ours[-1]


def same_content(copy: Path, sha256: str, size: int, previous: BackupInfo) -> bool:
    """The fresh `copy` (its sha256, size) has exactly the bytes of `previous`'s file."""
    if previous.sha256 != sha256 or previous.size_bytes != size or previous.ident is None:
        return False
    try:
        fa = open_trusted(previous.path, os.O_RDONLY, "the backup")
    except (OSError, UnsafePath):
        return False
    try:
        st = os.fstat(fa)
        if (st.st_dev, st.st_ino) != previous.ident or st.st_size != size:
            return False
        with os.fdopen(os.dup(fa), "rb") as old, open(copy, "rb") as new:
            while True:
                a, b = old.read(CHUNK), new.read(CHUNK)
                if a != b:
                    return False
                if not a:
                    return True
    except OSError:
        return False
    finally:
        os.close(fa)
