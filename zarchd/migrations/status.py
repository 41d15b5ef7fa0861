"""Where a registry stands against the catalog. Reading only: `inspect` never writes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from zarchd.core.errors import RegistryError
from zarchd.db.registry import DEFAULT_LOCK_TIMEOUT, connect
from zarchd.migrations import ledger
from zarchd.migrations.drift import find_drift, find_unreadable
from zarchd.migrations.model import Migration, SchemaStatus


def inspect(
    registry: Path, catalog: list[Migration], *, timeout: float = DEFAULT_LOCK_TIMEOUT
) -> SchemaStatus:
    """Applied, pending, changed and unknown migrations of `registry` (opened read-only);
    `timeout` bounds the wait for a writer's lock."""
    if not registry.exists():
        return SchemaStatus(exists=False, pending=list(catalog))
    conn = connect(registry, readonly=True, timeout=timeout)
    try:
        return read_status(conn, catalog)
    except sqlite3.DatabaseError as exc:
        if getattr(exc, "sqlite_errorname", "") == "SQLITE_READONLY_ROLLBACK":
            # A writer died mid-transaction. Undoing its journal is a write, which inspect never
            # does; the next writer (7zarch-go, migrate, check) rolls it back automatically.
            raise RegistryError(
                f"the registry {registry} has an unfinished transaction from a process that "
                f"stopped (hot journal {registry.name}-journal); it is rolled back the next time "
                "the registry is opened for writing, e.g. by 'zarchctl check' or 'zarchctl "
                "migrate'"
            ) from exc
        raise RegistryError(f"cannot read the migration state of {registry}: {exc}") from exc
    finally:
        conn.close()


def read_status(conn: sqlite3.Connection, catalog: list[Migration]) -> SchemaStatus:
    in_order = ledger.read_applied(conn)
    rows = {a.id: a for a in in_order}
    catalog_ids = {m.id for m in catalog}
    known = [rows[m.id] for m in catalog if m.id in rows]
    # Ids the catalog does not know (a newer application, a removed file) come last.
    unknown = sorted(
        (a for a in rows.values() if a.id not in catalog_ids),
        key=lambda a: (a.applied_at or "", a.id),
    )
    applied = known + unknown
    checksums = ledger.read_checksums(conn)
    changed = [
        {
            "id": m.id,
            "message": f"{m.id}: the file {m.source} changed after it was applied "
            f"(checksum {checksums[m.id][:12]} recorded, now {m.checksum[:12]})",
        }
        for m in catalog
        if m.id in rows and not m.builtin and m.id in checksums and checksums[m.id] != m.checksum
    ]
    return SchemaStatus(
        exists=True,
        applied=applied,
        pending=[m for m in catalog if m.id not in rows],
        changed=changed,
        unknown=[a.id for a in unknown],
        schema_version=ledger.schema_version(in_order),
        drift=[d.to_json() for d in find_drift(conn)],
        unreadable=[d.to_json() for d in find_unreadable(conn)],
    )
