"""Which backup directories and backup files zarchd trusts (issue 9, defect 9).

Another user who can write the backup directory could plant a database for `recover` to
restore, or swap a temp file between our writes. So:
- a directory owned by another user, or writable by group/others without the sticky bit, is
  refused outright (UnsafeDirectory, exit 2, the message says how to fix it);
- in a sticky shared directory (others may add files but not touch ours) a file not owned by
  zarchd's user or root is ignored, and logged once.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from zarchd.core.errors import UnsafeDirectory
from zarchd.core.fsutil import owner_name, shared_dir_risk, trusted_uids

log = logging.getLogger("zarchd.backups")
_WARNED_LIMIT = 1000
_warned: set[tuple[str, int, int]] = set()


def check_backup_dir(directory: Path) -> None:
    """UnsafeDirectory when other users could plant or swap files in `directory`."""
    try:
        st = os.stat(directory)
    except OSError:
        return  # missing (created 0700 by us) or unreadable: reported where it is used
    if not stat.S_ISDIR(st.st_mode):
        return
    mode = stat.S_IMODE(st.st_mode)
    risk = shared_dir_risk(st)
    if risk == "owner":
        raise UnsafeDirectory(
            f"the backup directory {directory} belongs to {owner_name(st.st_uid)}, not to "
            f"zarchd's user {owner_name(os.geteuid())} or root: its owner could plant or swap "
            f"backups, so zarchd will not use it. Set backup.dir to a directory you own "
            f"(or chown it)"
        )
    if risk == "writable":
        raise UnsafeDirectory(
            f"the backup directory {directory} is writable by other users (mode {mode:o}) "
            f"without the sticky bit: they could plant or swap backups, so zarchd will not use "
            f"it. Fix it with `chmod go-w {directory}` (or `chmod +t {directory}` for a shared "
            f"directory), or set backup.dir to a private directory"
        )


def untrusted_owner(st: os.stat_result) -> str | None:
    """Why a file with these stats is another user's (never trusted), or None."""
    if st.st_uid in trusted_uids():
        return None
    return f"owned by {owner_name(st.st_uid)}, not by zarchd's user or root: not trusted, ignored"


def note_ignored(path: Path, st: os.stat_result, why: str) -> None:
    """Log an ignored foreign file once (listing runs often; a flood of names stays bounded)."""
    key = (str(path), st.st_ino, st.st_uid)
    if key in _warned:
        return
    if len(_warned) >= _WARNED_LIMIT:
        _warned.clear()
    _warned.add(key)
    log.warning("ignoring %s in the backup directory: %s", path, why)
