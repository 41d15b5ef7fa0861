"""Find backups: every regular file in the backup dir whose name matches the registry's pattern."""

from __future__ import annotations

import os
import stat
from datetime import timezone
from pathlib import Path

from ..errors import NotFound, UnsafePath
from . import names
from .meta import BackupInfo, info_from, read_sidecar
from .trust import note_ignored, untrusted_owner


def list_backups(registry: Path, backup_dir: Path,
                 ignored: list[dict[str, str]] | None = None) -> list[BackupInfo]:
    """Oldest first. Files without a zarchd sidecar (7zarch-go's own backups) have ours=False.

    Files of other users are never listed (so never verified, pruned or restored); they are
    logged, and added to `ignored` ({"name", "reason"}) when given."""
    stem = names.stem_of(registry)
    try:
        entries = list(os.scandir(backup_dir))
    except FileNotFoundError:
        return []
    found: list[tuple[tuple, BackupInfo]] = []
    tz = names.local_tz()
    for entry in entries:
        parsed = names.parse(stem, entry.name)
        if parsed is None:
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(st.st_mode):  # symlinks, dirs: not ours to read or delete
            continue
        path = Path(backup_dir) / entry.name
        why = untrusted_owner(st)
        if why is not None:
            note_ignored(path, st, why)
            if ignored is not None:
                ignored.append({"name": entry.name, "reason": why})
            continue
        from_name = parsed.local_time.replace(tzinfo=tz).astimezone(timezone.utc)
        info = info_from(path, read_sidecar(path), from_name, st.st_size, (st.st_dev, st.st_ino))
        found.append(((info.created_at, parsed.seq, info.name), info))
    found.sort(key=lambda pair: pair[0])
    return [info for _, info in found]


def latest_backup(registry: Path, backup_dir: Path) -> BackupInfo | None:
    """The newest backup zarchd made (verified or not), or None."""
    ours = [b for b in list_backups(registry, backup_dir) if b.ours]
    return ours[-1] if ours else None


def resolve_name(registry: Path, backup_dir: Path, name: str) -> BackupInfo:
    """The listed backup called `name`; never a path, never anything list_backups does not show."""
    names.check_plain_name(name)
    ignored: list[dict[str, str]] = []
    for info in list_backups(registry, backup_dir, ignored):
        if info.name == name:
            return info
    for item in ignored:
        if item["name"] == name:
            raise UnsafePath(f"backup {name} in {backup_dir} is {item['reason']}; nothing was done")
    raise NotFound(f"no backup named {name!r} in {backup_dir}; `zarchctl backups` lists them")
