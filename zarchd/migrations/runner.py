"""migrate and rollback: plan against the registry, then one transaction per migration."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from zarchd.core.errors import MigrationError, NotFound, RegistryError
from zarchd.core.progress import Progress, Stage, no_progress
from zarchd.db.registry import connect
from zarchd.migrations import ledger, limits
from zarchd.migrations.cachesize import size_caches
from zarchd.migrations.gate import BackupGate, Wait
from zarchd.migrations.model import MigrateResult, Migration
from zarchd.migrations.status import read_status
from zarchd.migrations.transaction import run_step

# May return a function that waits for the backup it started (see gate.py).
BeforeApply = Callable[[list[Migration]], Wait | None]
T = TypeVar("T")


def migrate(
    registry: Path,
    catalog: list[Migration],
    *,
    timeout: float,
    app_version: str,
    progress: Progress = no_progress,
    before_apply: BeforeApply | None = None,
    lock_timeout: float = 5.0,
) -> MigrateResult:
    """Apply every catalog migration not recorded in `registry`, in catalog order.

    A missing registry is created (mode 0600) with the full schema. `before_apply(pending)` runs
    once before the first change, only when the file existed (it takes the safety backup; what
    it returns is waited for before the first COMMIT, see gate.py). With
    nothing pending nothing is written: the file stays byte-for-byte the same. `applied` in the
    result lists every migration recorded by this call; `skipped_present` those whose effect
    was already there and were only recorded.
    """
    existed = registry.exists()
    if not existed:
        _create_empty(registry)
    conn = connect(registry, timeout=lock_timeout)
    try:
        status = _guard(registry, lambda: read_status(conn, catalog))
        # An inferred 0001 (in effect, no row yet) is applied too: that records it.
        recorded = {a.id for a in status.applied if not a.inferred}
        todo = [m for m in catalog if m.id not in recorded]
        version = status.schema_version
        if not todo:
            return MigrateResult(schema_version=version)
        gate = BackupGate(before_apply(todo) if existed and before_apply is not None else None)
        try:
            return _apply_all(
                registry, conn, catalog, todo, version, timeout, app_version, gate, progress
            )
        finally:
            gate.settle()
    finally:
        conn.close()


def _apply_all(
    registry: Path,
    conn: sqlite3.Connection,
    catalog: list[Migration],
    todo: list[Migration],
    version: str | None,
    timeout: float,
    app_version: str,
    gate: BackupGate,
    progress: Progress,
) -> MigrateResult:
    result = MigrateResult()
    size_caches(conn, limits.registry_bytes(conn))
    # Counted in migrations: their inner work (rows, statements) has no common unit.
    stage = Stage(progress, "migrate", total=len(todo), unit="migrations", of=todo[0].id).start()
    for index, migration in enumerate(todo):
        stage.of = migration.id
        stage.update(index)
        outcome = run_step(
            conn,
            migration,
            up=True,
            timeout=timeout,
            app_version=app_version,
            progress=progress,
            version_before=version,
            gate=gate,
        )
        if not outcome.ran:
            continue  # another migrator applied it while we waited for the lock
        version = migration.id
        result.applied.append(
            {
                "id": migration.id,
                "name": migration.name,
                "duration_s": round(outcome.duration_s, 6),
            }
        )
        if outcome.found_present:
            result.skipped_present.append(migration.id)
    stage.end()
    result.schema_version = _guard(registry, lambda: _version(conn))
    return result


def rollback(
    registry: Path,
    catalog: list[Migration],
    to_id: str,
    *,
    timeout: float,
    progress: Progress = no_progress,
    before_apply: BeforeApply | None = None,
    lock_timeout: float = 5.0,
) -> MigrateResult:
    """Run the down part of every migration applied after `to_id`, newest first, each in its
    own transaction. Refuses before changing anything when one of them has no down part."""
    if not registry.exists():
        raise NotFound(f"the registry {registry} does not exist")
    by_id = {m.id: m for m in catalog}
    conn = connect(registry, timeout=lock_timeout)
    try:
        status = _guard(registry, lambda: read_status(conn, catalog))
        ids = [a.id for a in status.applied]
        if to_id not in ids:
            what = "is not applied to" if to_id in by_id else "is not a known migration of"
            raise NotFound(f"{to_id} {what} {registry}; applied: {', '.join(ids) or 'none'}")
        targets = list(reversed(ids[ids.index(to_id) + 1 :]))
        for mig_id in targets:
            if mig_id not in by_id:
                raise MigrationError(
                    f"cannot roll back to {to_id}: {mig_id} is recorded in the "
                    "registry but no migration here defines it; nothing was changed"
                )
            if not by_id[mig_id].has_down:
                raise MigrationError(
                    f"cannot roll back to {to_id}: {mig_id} ({by_id[mig_id].source}) "
                    "has no down migration; nothing was changed"
                )
        if not targets:
            return MigrateResult(schema_version=status.schema_version)
        gate = BackupGate(before_apply([by_id[i] for i in targets]) if before_apply else None)
        try:
            gate.pass_through(progress)  # rollbacks are rare: no overlap, the backup first
        finally:
            gate.settle()
        result = MigrateResult()
        size_caches(conn, limits.registry_bytes(conn))
        version: str | None = status.schema_version
        stage = Stage(
            progress, "rollback", total=len(targets), unit="migrations", of=targets[0]
        ).start()
        for position, mig_id in enumerate(targets):
            migration = by_id[mig_id]
            stage.of = mig_id
            stage.update(position)
            outcome = run_step(
                conn,
                migration,
                up=False,
                timeout=timeout,
                app_version="",
                progress=progress,
                version_before=version,
            )
            version = ids[ids.index(mig_id) - 1]
            if outcome.ran:
                result.applied.append(
                    {
                        "id": mig_id,
                        "name": migration.name,
                        "duration_s": round(outcome.duration_s, 6),
                    }
                )
        stage.end()
        result.schema_version = _guard(registry, lambda: _version(conn))
        return result
    finally:
        conn.close()


def _version(conn: sqlite3.Connection) -> str | None:
    """The schema version after the run, from the ledger alone: read_status would also scan
    archives for drift and NULLs (two full scans, 0.3 s at 1M rows) that nobody reads here."""
    return ledger.schema_version(ledger.read_applied(conn))


def _create_empty(registry: Path) -> None:
    """An empty file is an empty SQLite database; making it ourselves sets mode 0600 from the
    first moment (the registry lists the user's archives)."""
    try:
        registry.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(registry, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
    except FileExistsError:
        pass  # created by someone else meanwhile: fine, migrate it
    except OSError as exc:
        raise RegistryError(f"cannot create the registry {registry}: {exc}") from exc


def _guard(registry: Path, read: Callable[[], T]) -> T:
    try:
        return read()
    except sqlite3.DatabaseError as exc:
        raise RegistryError(f"cannot read the migration state of {registry}: {exc}") from exc
