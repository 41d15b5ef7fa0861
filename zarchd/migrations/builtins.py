"""The five migrations 7zarch-go knows, ids and names exactly as it records them.

Each step looks before it acts, so an effect already present (a registry 7zarch-go shaped
itself, or a column someone added by hand) is recorded instead of failing. On a registry
without an archives table, 0001 creates the table in its current shape, as 7zarch-go does on a
fresh install; 0002 and 0003 then find their columns present.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from zarchd.core.errors import MigrationError
from zarchd.db.registry import column_names, quote_ident
from zarchd.migrations import ddl
from zarchd.migrations.backfill import backfill_uids
from zarchd.migrations.context import StepContext
from zarchd.migrations.fills import Fill, plan_fills
from zarchd.migrations.rebuild import rebuild_table
from zarchd.migrations.schema_ops import (
    add_column_if_missing,
    constrained_columns,
    drop_column_if_present,
    has_index,
    has_table,
)

_NO_UID = "uid IS NULL OR uid = ''"


@dataclass(frozen=True)
class Builtin:
    id: str
    name: str
    up: Callable[[StepContext], None]
    down: Callable[[StepContext], None] | None
    up_sql: str
    down_sql: str | None
    expect_columns: dict[str, tuple[str, ...]]
    expect_indexes: tuple[str, ...] = ()
    # Checks the data once the columns and indexes are there; returns the problems found.
    check_data: Callable[[sqlite3.Connection], list[str]] | None = None
    # Data 7zarch-go cannot read that re-running `up` fixes; a warning, not a failed migration.
    check_readable: Callable[[sqlite3.Connection], list[str]] | None = None
    # The only tables `up` changes (new ones): validation checks just these. Empty: all.
    touches: tuple[str, ...] = ()


def _sql(*statements: str) -> str:
    return "\n".join(s if s.startswith("--") else s + ";" for s in statements) + "\n"


def _add_columns_sql(columns: tuple[tuple[str, str], ...]) -> list[str]:
    return [f"ALTER TABLE archives ADD COLUMN {name} {decl}" for name, decl in columns]


# 0001 ---------------------------------------------------------------------------------------


def _up_0001(ctx: StepContext) -> None:
    ctx.found_present = has_table(ctx.conn, "archives")
    if not ctx.found_present:
        ctx.conn.execute(ddl.ARCHIVES_CURRENT)
    for statement in ddl.BASELINE_INDEXES:
        ctx.conn.execute(statement)


# 0002 ---------------------------------------------------------------------------------------


def _up_0002(ctx: StepContext) -> None:
    conn = ctx.conn
    added = [
        add_column_if_missing(conn, "archives", name, decl) for name, decl in ddl.IDENTITY_COLUMNS
    ]
    fills = plan_fills(conn, _FILLS_0002)
    for statement in fills.drops():
        conn.execute(statement)
    filled = backfill_uids(ctx, also=fills.assignments(), column_new=added[0])
    filled += _fill_nulls(conn, fills.statements())
    for statement in fills.recreates():
        conn.execute(statement)
    indexes = [has_index(conn, n) for n in ("idx_archives_checksum", "idx_archives_uid")]
    for statement in ddl.IDENTITY_INDEXES:
        conn.execute(statement)
    ctx.found_present = not any(added) and filled == 0 and all(indexes)


def _fill_nulls(conn: sqlite3.Connection, statements: list[str]) -> int:
    """Run the NULL-filling UPDATEs; returns how many values changed."""
    return sum(conn.execute(statement).rowcount for statement in statements)


_FILL_0002 = ddl.fill_nulls_sql(ddl.GO_TEXT_BASELINE, ddl.GO_BOOL_BASELINE + ddl.GO_BOOL_IDENTITY)
_FILL_0003 = ddl.fill_nulls_sql(ddl.GO_TEXT_TRASH, ())
# What 0002 runs: the same fills (status too), in as few passes as the indexes allow.
_FILLS_0002 = (
    Fill("status", "'present'"),
    *(Fill(c, "''") for c in ddl.GO_TEXT_BASELINE),
    *(Fill(c, "0") for c in ddl.GO_BOOL_BASELINE + ddl.GO_BOOL_IDENTITY),
)


def _uids_missing(conn: sqlite3.Connection) -> list[str]:
    empty = conn.execute(f"SELECT count(*) FROM archives WHERE {_NO_UID}").fetchone()[0]
    return [f"{empty} archive(s) still without a uid"] if empty else []


def _nulls_found(columns: tuple[str, ...]) -> Callable[[sqlite3.Connection], list[str]]:
    """NULLs 7zarch-go cannot scan (an upgrade by an older zarchd, or another writer, left them).
    Not schema drift: reported as a warning, filled by `repair`."""

    def check(conn: sqlite3.Connection) -> list[str]:
        present = [c for c in columns if c in column_names(conn, "archives")]
        if not present:
            return []
        where = " OR ".join(f"{c} IS NULL" for c in present)
        count = conn.execute(f"SELECT count(*) FROM archives WHERE {where}").fetchone()[0]
        return (
            [f"{count} archive(s) have NULL in {', '.join(present)}, which 7zarch-go cannot read"]
            if count
            else []
        )

    return check


def _down_0002(ctx: StepContext) -> None:
    conn = ctx.conn
    conn.execute("DROP INDEX IF EXISTS idx_archives_uid")
    conn.execute("DROP INDEX IF EXISTS idx_archives_checksum")
    identity = [name for name, _decl in ddl.IDENTITY_COLUMNS]
    if "uid" in constrained_columns(conn, "archives"):
        # Created fresh, uid carries an inline UNIQUE that DROP COLUMN refuses: rebuild.
        extra = set(column_names(conn, "archives")) - set(ddl.BASELINE_COLUMNS) - set(identity)
        if extra:
            raise MigrationError(
                f"archives has columns {sorted(extra)} that 0001_baseline does "
                "not know; roll them back first or restore a backup"
            )
        rebuild_table(conn, "archives", ddl.ARCHIVES_BASELINE, progress=ctx.progress)
        return
    for name in reversed(identity):
        drop_column_if_present(conn, "archives", name)


# 0003-0005 ----------------------------------------------------------------------------------


def _up_0003(ctx: StepContext) -> None:
    added = [
        add_column_if_missing(ctx.conn, "archives", name, decl) for name, decl in ddl.TRASH_COLUMNS
    ]
    filled = _fill_nulls(ctx.conn, _FILL_0003)
    ctx.found_present = not any(added) and filled == 0


def _down_0003(ctx: StepContext) -> None:
    for name, _decl in reversed(ddl.TRASH_COLUMNS):
        drop_column_if_present(ctx.conn, "archives", name)


def _create_table_step(table: str, statements: tuple[str, ...]) -> Callable[[StepContext], None]:
    def up(ctx: StepContext) -> None:
        ctx.found_present = has_table(ctx.conn, table)
        for statement in statements:
            ctx.conn.execute(statement)

    return up


def _drop_table_step(table: str) -> Callable[[StepContext], None]:
    def down(ctx: StepContext) -> None:
        ctx.conn.execute(f"DROP TABLE IF EXISTS {quote_ident(table)}")  # its indexes go with it

    return down


BUILTINS: tuple[Builtin, ...] = (
    Builtin(
        "0001_baseline",
        "Baseline schema",
        _up_0001,
        None,
        _sql(
            "-- an existing archives table (any shape) is kept as it is",
            ddl.ARCHIVES_CURRENT,
            *ddl.BASELINE_INDEXES,
        ),
        None,
        {"archives": ddl.BASELINE_COLUMNS},
    ),
    Builtin(
        "0002_identity_and_status",
        "Add uid/managed/status/last_seen and indexes",
        _up_0002,
        _down_0002,
        _sql(
            "-- each column is added only when missing",
            *_add_columns_sql(ddl.IDENTITY_COLUMNS),
            "-- every row without a uid gets a 26-character ULID from its created time,",
            "-- its 12-character prefix (the ID 7zarch-go shows) distinct from every other",
            f"UPDATE archives SET uid = zarchd_ulid(created, rowid) WHERE {_NO_UID}",
            "UPDATE archives SET status = 'present' WHERE status IS NULL",
            "-- NULLs 7zarch-go cannot read get what it writes for new rows",
            *_FILL_0002,
            *ddl.IDENTITY_INDEXES,
        ),
        _sql(
            "DROP INDEX IF EXISTS idx_archives_uid",
            "DROP INDEX IF EXISTS idx_archives_checksum",
            "-- a uid with an inline UNIQUE constraint needs a copy-rebuild of archives",
            *(f"ALTER TABLE archives DROP COLUMN {n}" for n, _ in reversed(ddl.IDENTITY_COLUMNS)),
        ),
        {"archives": tuple(n for n, _ in ddl.IDENTITY_COLUMNS)},
        ("idx_archives_uid", "idx_archives_checksum"),
        check_data=_uids_missing,
        check_readable=_nulls_found(
            ddl.GO_TEXT_BASELINE + ddl.GO_BOOL_BASELINE + ddl.GO_BOOL_IDENTITY + ("status",)
        ),
    ),
    Builtin(
        "0003_trash_fields",
        "Add deleted_at and original_path for trash support",
        _up_0003,
        _down_0003,
        _sql(
            "-- each column is added only when missing",
            *_add_columns_sql(ddl.TRASH_COLUMNS),
            "-- NULLs 7zarch-go cannot read get what it writes for new rows",
            *_FILL_0003,
        ),
        _sql(*(f"ALTER TABLE archives DROP COLUMN {n}" for n, _ in reversed(ddl.TRASH_COLUMNS))),
        {"archives": tuple(n for n, _ in ddl.TRASH_COLUMNS)},
        check_readable=_nulls_found(ddl.GO_TEXT_TRASH),
    ),
    Builtin(
        "0004_query_system",
        "Add queries table for saved query support",
        _create_table_step("queries", (ddl.QUERIES,)),
        _drop_table_step("queries"),
        _sql(ddl.QUERIES),
        _sql("DROP TABLE IF EXISTS queries"),
        {"queries": ("name", "filters", "created", "last_used", "use_count")},
        touches=("queries",),
    ),
    Builtin(
        "0005_search_index",
        "Add search_index table for full-text search support",
        _create_table_step("search_index", (ddl.SEARCH_INDEX, ddl.SEARCH_INDEX_TERM)),
        _drop_table_step("search_index"),
        _sql(ddl.SEARCH_INDEX, ddl.SEARCH_INDEX_TERM),
        _sql("DROP TABLE IF EXISTS search_index"),
        {"search_index": ("term", "archive_uid", "field")},
        ("idx_search_term",),
        touches=("search_index",),
    ),
)

BY_ID: dict[str, Builtin] = {b.id: b for b in BUILTINS}
LAST_BUILTIN = BUILTINS[-1].id


def verify(builtin: Builtin, ctx: StepContext) -> list[str]:
    """What is missing after `builtin` ran (empty when its effect is all there)."""
    problems = []
    for table, columns in builtin.expect_columns.items():
        present = set(column_names(ctx.conn, table))
        if not present:
            problems.append(f"table {table} is missing")
            continue
        missing = [c for c in columns if c not in present]
        if missing:
            problems.append(f"table {table} lacks column(s) {', '.join(missing)}")
    problems += [
        f"index {n} is missing" for n in builtin.expect_indexes if not has_index(ctx.conn, n)
    ]
    if builtin.check_data is not None and not problems:
        problems += builtin.check_data(ctx.conn)
    return problems
