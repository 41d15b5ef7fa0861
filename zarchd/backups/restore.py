"""Put a listed backup back as the registry, after a safety backup of the current state.

A live registry is overwritten through SQLite's backup API (backup -> registry connection):
one write transaction that SQLite runs through the registry's own -wal/-journal and locks, so
other connections see either the old or the new database. Renaming a file over registry.db
instead would let SQLite apply a leftover registry.db-wal to the new file. The rename path is
used only when there is no registry (missing, or set aside because it was damaged), after any
stray -wal/-journal was moved away; a damaged registry is set aside only once the checked
copy that replaces it is ready.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from zarchd.backups.listing import resolve_name
from zarchd.backups.recover import aside_name, install_copy, prepared_copy, refuse_if_written
from zarchd.backups.storage import BackupStore, as_store
from zarchd.backups.swap import swap_in
from zarchd.backups.take import take_backup
from zarchd.backups.verify import backup_problems
from zarchd.core.clock import Clock, utcnow
from zarchd.core.errors import BackupError, IntegrityFailure, RegistryError
from zarchd.core.progress import Progress, Stage, no_progress
from zarchd.db.registry import connect, open_static

LOCK_TIMEOUT_S = 30.0


def restore_backup(
    registry: Path,
    store: BackupStore | Path,
    name: str,
    *,
    now: Clock = utcnow,
    progress: Progress = no_progress,
) -> dict[str, Any]:
    store = as_store(store)
    info = resolve_name(registry, store, name)
    problems = backup_problems(info, progress, now, store)
    if problems:
        raise IntegrityFailure(
            f"backup {name} failed verification, nothing was changed: {'; '.join(problems)}"
        )
    result: dict[str, Any] = {
        "restored": name,
        "safety_backup": None,
        "corrupted_saved_as": None,
        "registry": str(registry),
        "method": None,
    }
    try:
        mode = 0o600
        if registry.exists():
            mode = registry.stat().st_mode & 0o777
            try:
                safety = take_backup(  # the full check: it decides "damaged, set aside"
                    registry,
                    store,
                    now=now,
                    progress=progress,
                    reason="pre-restore",
                    full_check_every_s=0,
                )
                result["safety_backup"] = safety.name
            except IntegrityFailure:  # a damaged registry is kept aside, not backed up
                refuse_if_written(registry)
                with (
                    Stage(progress, "replace", of=name),
                    store.open(name) as source,
                    prepared_copy(source, registry, mode, expect=info.ident) as ready,
                ):  # before moving it
                    aside = aside_name(registry, now)
                    swap_in(ready, registry, aside, now, restored=name)
                    result["corrupted_saved_as"] = str(aside)
                result["method"] = "replace"
                return result
        with Stage(progress, "replace", of=name) as stage, store.open(name) as source:
            if registry.exists():
                _copy_into_live(source, registry, stage)
                result["method"] = "backup-api"
            else:
                install_copy(source, registry, mode)
                result["method"] = "replace"
    except OSError as exc:
        raise BackupError(f"restoring {name} into {registry} failed: {exc}") from exc
    return result


def _copy_into_live(backup: Path, registry: Path, stage: Stage) -> None:
    try:
        src = open_static(backup)
    except RegistryError as exc:
        raise BackupError(exc.message) from exc
    try:
        dst = connect(registry, timeout=LOCK_TIMEOUT_S)
    except RegistryError as exc:
        src.close()
        raise BackupError(exc.message) from exc
    try:
        wal = dst.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
        src_page = src.execute("PRAGMA page_size").fetchone()[0]
        mismatch = wal and dst.execute("PRAGMA page_size").fetchone()[0] != src_page
        if mismatch:  # the backup API cannot change the page size of a WAL database
            dst.execute("PRAGMA journal_mode=DELETE")
        stage.total = src.execute("PRAGMA page_count").fetchone()[0] * src_page

        def copied(status: int, remaining: int, total: int) -> None:
            stage.update((total - remaining) * src_page)

        # In steps of 256 pages so the bar moves; the backup API counts pages, we show bytes.
        src.backup(dst, pages=256, progress=copied)
        if mismatch:
            dst.execute("PRAGMA journal_mode=WAL")
        check = dst.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise BackupError(
                f"the registry failed its check after restoring {backup.name}: {check}"
            )
    except sqlite3.OperationalError as exc:
        raise BackupError(
            f"cannot write the registry {registry}: {exc}; is another program "
            f"holding it? Nothing was changed"
        ) from exc
    finally:
        dst.close()
        src.close()
