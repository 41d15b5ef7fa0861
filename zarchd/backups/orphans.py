"""Sidecars left without their backup (issue 9, defect 11).

A kill -9 between writing the sidecar and linking the backup, or in the middle of a prune, leaves
`<name>.json` alone; a new backup then skips that name forever. They are removed only by the
holder of the registry's writer lock (no zarchd is then half-way through publishing one), and
only ours (the store's rules: see BackupStore.remove_orphan_sidecars).
"""

from __future__ import annotations

from pathlib import Path

from zarchd.backups.storage import BackupStore, as_store


def remove_orphan_sidecars(
    store: BackupStore | Path, stem: str, older_than_s: float | None = None
) -> list[Path]:
    """Remove our sidecars whose backup is gone; with `older_than_s` only older ones."""
    return as_store(store).remove_orphan_sidecars(stem, older_than_s)
