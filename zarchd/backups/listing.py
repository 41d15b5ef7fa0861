"""Find backups: every regular file in the store whose name matches the registry's pattern."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from pathlib import Path

from zarchd.backups import names
from zarchd.backups.meta import BackupInfo, info_from, ours_info
from zarchd.backups.namecheck import created_at_matches_name
from zarchd.backups.replaced import replaced_by_other
from zarchd.backups.storage import BackupStore, as_store
from zarchd.core.clock import parse_iso
from zarchd.core.errors import NotFound, UnsafePath


def list_backups(
    registry: Path, store: BackupStore | Path, ignored: list[dict[str, str]] | None = None
) -> list[BackupInfo]:
    """Oldest first. Files without a zarchd sidecar (7zarch-go's own backups) have ours=False.

    Files of other users are never listed (so never verified, pruned or restored); they are
    logged, and added to `ignored` ({"name", "reason"}) when given."""
    store = as_store(store)
    stem = names.stem_of(registry)
    found: list[tuple[tuple[datetime, int, str], BackupInfo]] = []
    tz = names.local_tz()
    for stored in store.scan(stem):
        parsed = stored.parsed or names.parse(stem, stored.name)
        if parsed is None:
            continue
        if stored.untrusted is not None:
            if ignored is not None:
                ignored.append({"name": stored.name, "reason": stored.untrusted})
            continue
        meta = stored.sidecar
        if meta is not None and not parsed.marked and replaced_by_other(store, stored, meta):
            meta = None  # 7zarch-go overwrote our old-style name: its backup now, not ours
        path, ident = stored.location, stored.ident
        created = None
        if meta is not None:  # the sidecar's time, trusted only when it agrees with the name
            created = parse_iso(meta.get("created_at"))
            if created is not None and not created_at_matches_name(
                created, parsed.local_time, tz, meta.get("utc_offset_s")
            ):
                created = None
        if meta is not None and created is not None:  # the common case: ours, time = name
            info = ours_info(path, meta, created, stored.size, ident, stored.name)
        elif meta is not None:
            info = BackupInfo(
                stored.name,
                path,
                _name_time(parsed.local_time, tz),
                stored.size,
                None,
                None,
                None,
                None,
                ours=False,
                ident=ident,
                untrusted=True,
            )
        else:
            info = info_from(path, None, _name_time(parsed.local_time, tz), stored.size, ident)
        found.append(((info.created_at, parsed.seq, info.name), info))
    found.sort(key=lambda pair: pair[0])
    return [info for _, info in found]


def _name_time(name_local: datetime, tz: tzinfo) -> datetime:
    """When the name says the backup was made (aware UTC)."""
    return name_local.replace(tzinfo=tz).astimezone(UTC)


def latest_backup(registry: Path, store: BackupStore | Path) -> BackupInfo | None:
    """The newest backup zarchd made (verified or not), or None."""
    ours = [b for b in list_backups(registry, store) if b.ours]
    return ours[-1] if ours else None


def resolve_name(registry: Path, store: BackupStore | Path, name: str) -> BackupInfo:
    """The listed backup called `name`; never a path, never anything list_backups does not show."""
    names.check_plain_name(name)
    store = as_store(store)
    ignored: list[dict[str, str]] = []
    for info in list_backups(registry, store, ignored):
        if info.name == name:
            return info
    for item in ignored:
        if item["name"] == name:
            raise UnsafePath(f"backup {name} in {store} is {item['reason']}; nothing was done")
    raise NotFound(f"no backup named {name!r} in {store}; `zarchctl backups` lists them")


def bytes_on_disk(items: list[BackupInfo]) -> int:
    """Bytes the listed backups take: a file under several names (identical backups are hard
    links) counts once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for b in items:
        if b.ident is not None:
            if b.ident in seen:
                continue
            seen.add(b.ident)
        total += b.size_bytes
    return total
