"""Find backups: every regular file in the store whose name matches the registry's pattern."""

from __future__ import annotations

import os
from datetime import UTC, datetime, tzinfo
from operator import itemgetter
from pathlib import Path
from stat import S_ISREG

from zarchd.backups import names
from zarchd.backups.meta import BACKUP_FIELDS, BackupInfo, info_from, ours_from_fields, ours_info
from zarchd.backups.namecheck import created_at_matches_name, in_recorded_offset
from zarchd.backups.replaced import replaced_by_other
from zarchd.backups.sidecarindex import AT, agreed, fresh
from zarchd.backups.storage import BackupStore, LocalDirectory, StoredBackup, as_store, dir_problem
from zarchd.core.clock import parse_iso
from zarchd.core.errors import BackupError, NotFound, UnsafePath
from zarchd.core.fsutil import trusted_uids


def list_backups(
    registry: Path, store: BackupStore | Path, ignored: list[dict[str, str]] | None = None
) -> list[BackupInfo]:
    """Oldest first. Files without a zarchd sidecar (7zarch-go's own backups) have ours=False.

    Files of other users are never listed (so never verified, pruned or restored); they are
    logged, and added to `ignored` ({"name", "reason"}) when given."""
    store = as_store(store)
    stem = names.stem_of(registry)
    tz = names.local_tz()
    if type(store) is LocalDirectory:
        found = _list_local(store, stem, tz, ignored)
    else:
        found = []
        for stored in store.scan(stem):
            parsed = stored.parsed or names.parse(stem, stored.name)
            if parsed is not None:
                _add(found, store, stored, parsed, tz, ignored)
    found.sort(key=itemgetter(0))  # (time, -N sequence, name): no Python call per backup
    return [info for _, info in found]


_Found = list[tuple[tuple[datetime, int, str], BackupInfo]]


def _add(
    found: _Found,
    store: BackupStore,
    stored: StoredBackup,
    parsed: names.ParsedName,
    tz: tzinfo,
    ignored: list[dict[str, str]] | None,
) -> None:
    """Add the listed backup `stored` (its name's parts `parsed`) to `found` with its sort key
    (time, -N sequence, name); another user's file goes to `ignored` instead."""
    if stored.untrusted is not None:
        if ignored is not None:
            ignored.append({"name": stored.name, "reason": stored.untrusted})
        return
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


# Where a sidecar index record holds what the listing reads: created_at, the recorded offset,
# and the fields ours_from_fields takes, in its order (contiguous in a record: checked here).
CREATED, OFFSET = AT["created_at"], AT["utc_offset_s"]
FIRST_SHOWN = AT[BACKUP_FIELDS[0]]
SHOWN_END = FIRST_SHOWN + len(BACKUP_FIELDS)
assert [AT[field] for field in BACKUP_FIELDS] == list(range(FIRST_SHOWN, SHOWN_END))


def _list_local(
    store: LocalDirectory, stem: str, tz: tzinfo, ignored: list[dict[str, str]] | None
) -> _Found:
    """What list_backups finds in a local directory, in one pass over its names (unsorted).

    Through store.scan each of 10,000 backups became a ParsedName, a StoredBackup and a
    BackupInfo, with an index lookup of its own: ~16 us a backup, half of a `zarchctl backups
    --local` (issue 16). Here the common backup (a file of ours under a marked name, its
    sidecar a regular file of ours whose lstat is the index record's, created_at agreeing
    with the name) costs its two lstats, one dict lookup and its BackupInfo, made from the
    index record's fields in place (~5 us). Anything else goes the way scan and _add go, by
    the same code (store.entry, _add): the rules are one."""
    found: _Found = []
    dir_fd = store.open_dir()
    if dir_fd is None:
        return found
    index = store.index
    records = index.records() if index is not None else {}
    used: list[str] = []
    trusted = trusted_uids()
    child = getattr(store.path, "_make_child_relpath", store.path.joinpath)
    match, suffix, lstat, regular = names.pattern(stem).fullmatch, names.SUFFIX, os.stat, S_ISREG
    try:
        for name in os.listdir(dir_fd):
            if not name.endswith(suffix):  # the sidecars, half the names: no call
                continue
            m = match(name)
            if m is None:
                continue
            marked = m.group(7) is not None
            record = records.get(name) if marked else None
            # A record that says its created_at agrees with this name (agreed()) spares
            # reading the name's time; any other name is read first: no date, no backup.
            known = record is not None and agreed(record)
            parts = None if known else names.name_parts(m)
            if parts is None and not known:
                continue
            try:
                st = lstat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if not regular(st.st_mode):  # symlinks, dirs: not ours to read or delete
                continue
            if record is not None and st.st_uid in trusted:
                try:
                    side = lstat(name + names.SIDECAR, dir_fd=dir_fd, follow_symlinks=False)
                except OSError:
                    side = None
                usable = (
                    side is not None
                    and regular(side.st_mode)
                    and side.st_uid in trusted
                    and fresh(record, side)
                )
                created = parse_iso(record[CREATED]) if usable else None
                if created is not None:
                    if parts is None:  # agreed() when it was recorded; the sidecar is unchanged
                        agrees = True
                    else:
                        offset = record[OFFSET]
                        agrees = created_at_matches_name(created, parts[0], tz, offset)
                        if (
                            agrees
                            and index is not None
                            and in_recorded_offset(created, parts[0], offset)
                        ):  # true in any time zone: remembered (not when `tz` decided)
                            index.agrees(name, record)
                    if agrees:
                        used.append(name)
                        seq = m.group(8)
                        info = ours_from_fields(
                            child(name),
                            name,
                            created,
                            st.st_size,
                            (st.st_dev, st.st_ino),
                            *record[FIRST_SHOWN:SHOWN_END],
                        )
                        found.append(((created, int(seq) if seq else 0, name), info))
                        continue
            if parts is None:
                parts = names.name_parts(m)
                if parts is None:
                    continue
            parsed = names.ParsedName(name, *parts)
            _add(found, store, store.entry(dir_fd, name, parsed, st, trusted), parsed, tz, ignored)
        if index is not None:
            index.saw(used)
            index.save()
    except OSError as exc:
        raise BackupError(dir_problem(store.path, exc)) from exc
    finally:
        os.close(dir_fd)
    return found


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
