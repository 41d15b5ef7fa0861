"""Which backup `restore` means: a name, `latest`, or the newest taken before a moment."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from zarchd.backups.listing import list_backups, resolve_name
from zarchd.backups.meta import BackupInfo
from zarchd.backups.storage import BackupStore, as_store
from zarchd.core.clock import iso
from zarchd.core.errors import NotFound, UsageError

LATEST = "latest"


def choose_backup(
    registry: Path, store: BackupStore | Path, name: str | None, before: datetime | None
) -> BackupInfo:
    """The listed backup called `name` (`latest`: the newest listed), or with `before` the
    newest taken strictly before that moment. Files not trusted are never chosen."""
    if (name is None) == (before is None):
        raise UsageError("name a backup (or `latest`), or give --before TIME; not both")
    store = as_store(store)
    if name is not None and name != LATEST:
        return resolve_name(registry, store, name)
    # never one that failed its verification (verified False): recover skips those too
    listed = [
        b for b in list_backups(registry, store) if not b.untrusted and b.verified is not False
    ]
    if before is not None:
        listed = [b for b in listed if b.created_at < before]
    if listed:
        return listed[-1]  # the listing is oldest first
    if before is not None:
        raise NotFound(f"no backup in {store} was taken before {iso(before)}")
    raise NotFound(f"no backups in {store} to restore")
