"""Find backups: every regular file in the backup dir whose name matches the registry's pattern."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from zarchd.backups import names
from zarchd.backups.meta import BackupInfo, info_from, read_sidecar
from zarchd.backups.namecheck import created_at_matches_name
from zarchd.backups.replaced import replaced_by_other
from zarchd.backups.trust import note_ignored, untrusted_owner
from zarchd.core.clock import parse_iso
from zarchd.core.errors import BackupError, NotFound, UnsafePath


def list_backups(
    registry: Path, backup_dir: Path, ignored: list[dict[str, str]] | None = None
) -> list[BackupInfo]:
    """Oldest first. Files without a zarchd sidecar (7zarch-go's own backups) have ours=False.

    Files of other users are never listed (so never verified, pruned or restored); they are
    logged, and added to `ignored` ({"name", "reason"}) when given."""
    stem = names.stem_of(registry)
    try:
        entries = list(os.scandir(backup_dir))
    except FileNotFoundError:
        return []
    except OSError as exc:  # a file in the way, no permission: say which, never a traceback
        raise BackupError(dir_problem(backup_dir, exc)) from exc
    found: list[tuple[tuple[datetime, int, str], BackupInfo]] = []
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
        from_name = parsed.local_time.replace(tzinfo=tz).astimezone(UTC)
        meta = read_sidecar(path)
        if meta is not None and not parsed.marked and replaced_by_other(path, meta, st):
            meta = None  # 7zarch-go overwrote our old-style name: its backup now, not ours
        ident = (st.st_dev, st.st_ino)
        if meta is not None and not _sidecar_matches_name(meta, parsed.local_time, tz):
            info = BackupInfo(
                entry.name,
                path,
                from_name,
                st.st_size,
                None,
                None,
                None,
                None,
                ours=False,
                ident=ident,
                untrusted=True,
            )
        else:
            info = info_from(path, meta, from_name, st.st_size, ident)
        found.append(((info.created_at, parsed.seq, info.name), info))
    found.sort(key=lambda pair: pair[0])
    return [info for _, info in found]


def _sidecar_matches_name(meta: dict[str, Any], name_local: datetime, tz: tzinfo) -> bool:
    created = parse_iso(meta.get("created_at"))
    return created is not None and created_at_matches_name(
        created, name_local, tz, meta.get("utc_offset_s")
    )


def dir_problem(backup_dir: Path, exc: OSError) -> str:
    """What is wrong with the backup directory, for users: the path and what to do."""
    if isinstance(exc, (NotADirectoryError, FileExistsError)):
        return (
            f"the backup directory {backup_dir} is not a directory (a file is in the way); "
            f"move it, or set [backup] dir to another place"
        )
    return f"cannot read the backup directory {backup_dir}: {exc.strerror or exc}"


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
