"""What the registry says was applied: 7zarch-go's schema_migrations, plus zarchd's own
zarchd_migrations (checksum, duration, versions) kept apart so 7zarch-go's table is never
altered and an adopted registry with nothing pending is never written."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from zarchd import __version__
from zarchd.migrations import ddl
from zarchd.migrations.builtins import BUILTINS
from zarchd.migrations.gotime import parse_us
from zarchd.migrations.model import AppliedMigration, Migration
from zarchd.migrations.schema_ops import has_table

BASELINE = BUILTINS[0]


def go_time(now: datetime | None = None) -> str:
    """Local time with offset in the layout 7zarch-go stores, e.g.
    `2025-08-14 00:32:31.533452-05:00` (Go drops trailing zeros of the fraction)."""
    now = (now or datetime.now()).astimezone()
    base = now.strftime("%Y-%m-%d %H:%M:%S")
    fraction = f"{now.microsecond:06d}".rstrip("0")
    offset = now.isoformat()[-6:]  # ±HH:MM
    return f"{base}.{fraction}{offset}" if fraction else f"{base}{offset}"


def read_applied(conn: sqlite3.Connection) -> list[AppliedMigration]:
    """Rows of schema_migrations, applied_at verbatim; 0001 inferred when an archives table
    exists without its record (registries older than 7zarch-go's migration system)."""
    applied: list[AppliedMigration] = []
    if has_table(conn, "schema_migrations"):
        for mig_id, name, applied_at in conn.execute(
            "SELECT id, name, applied_at FROM schema_migrations ORDER BY rowid"
        ):
            applied.append(
                AppliedMigration(
                    str(mig_id), str(name), None if applied_at is None else str(applied_at)
                )
            )
    if has_table(conn, "archives") and BASELINE.id not in {a.id for a in applied}:
        applied.insert(0, AppliedMigration(BASELINE.id, BASELINE.name, None, inferred=True))
    return applied


def schema_version(applied: list[AppliedMigration]) -> str | None:
    """7zarch-go's rule: the id of the most recently applied row (by applied_at, parsed with its
    offset, never compared as text), not the highest id. Ties and unparseable times go by
    recording order (rowid), the later row winning; `applied` is in rowid order."""
    if not applied:
        return None

    def key(item: tuple[int, AppliedMigration]) -> tuple[int, int]:
        us = parse_us(item[1].applied_at)
        return (-(1 << 62) if us is None else us, item[0])

    return max(enumerate(applied), key=key)[1].id


def recorded_ids(conn: sqlite3.Connection) -> set[str]:
    """Ids with a row in schema_migrations (inferred ones do not count: they must be recorded)."""
    if not has_table(conn, "schema_migrations"):
        return set()
    return {r[0] for r in conn.execute("SELECT id FROM schema_migrations")}


def read_checksums(conn: sqlite3.Connection) -> dict[str, str]:
    if not has_table(conn, "zarchd_migrations"):
        return {}
    return {r[0]: r[1] for r in conn.execute("SELECT id, checksum FROM zarchd_migrations")}


def record(
    conn: sqlite3.Connection, migration: Migration, *, duration_ms: int, app_version: str
) -> None:
    """Write the migration's rows; call inside its transaction."""
    conn.execute(ddl.SCHEMA_MIGRATIONS)
    conn.execute(ddl.ZARCHD_MIGRATIONS)
    applied_at = go_time()
    conn.execute(
        "INSERT INTO schema_migrations (id, name, applied_at) VALUES (?, ?, ?)",
        (migration.id, migration.name, applied_at),
    )
    conn.execute(
        "INSERT OR REPLACE INTO zarchd_migrations (id, checksum, duration_ms, app_version,"
        " zarchd_version, applied_at) VALUES (?, ?, ?, ?, ?, ?)",
        (migration.id, migration.checksum, duration_ms, app_version, __version__, applied_at),
    )


def unrecord(conn: sqlite3.Connection, migration_id: str) -> None:
    conn.execute("DELETE FROM schema_migrations WHERE id = ?", (migration_id,))
    if has_table(conn, "zarchd_migrations"):
        conn.execute("DELETE FROM zarchd_migrations WHERE id = ?", (migration_id,))
