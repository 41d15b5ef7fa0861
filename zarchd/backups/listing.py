"""Find backups: every regular file in the backup dir whose name matches the registry's pattern."""

from __future__ import annotations

import os
import stat
from datetime import timezone
from pathlib import Path

from ..errors import NotFound
from . import names
from .meta import BackupInfo, info_from, read_sidecar
from .replaced import replaced_by_other


def list_backups(registry: Path, backup_dir: Path) -> list[BackupInfo]:
    """Oldest first. Files without a zarchd sidecar (7zarch-go's own backups) have ours=False."""
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
        from_name = parsed.local_time.replace(tzinfo=tz).astimezone(timezone.utc)
        meta = read_sidecar(path)
        if meta is not None and not parsed.marked and replaced_by_other(path, meta, st):
            meta = None  # 7zarch-go overwrote our old-style name: its backup now, not ours
        info = info_from(path, meta, from_name, st.st_size)
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
    for info in list_backups(registry, backup_dir):
        if info.name == name:
            return info
    raise NotFound(f"no backup named {name!r} in {backup_dir}; `zarchctl backups` lists them")
