"""sqlite.org's "generalized ALTER TABLE" procedure, for changes ALTER TABLE cannot make.

Create the new table under a temporary name, copy the rows, drop the old table, rename the new
one, then recreate the table's indexes and triggers and the views that use it from the SQL text
saved from sqlite_schema beforehand, verbatim (DESC orders and partial-index WHERE clauses
survive), and finish with PRAGMA foreign_key_check.

It runs inside the caller's transaction with foreign keys OFF: the runner turns them off before
BEGIN, because the pragma is silently ignored inside a transaction, and with them on DROP TABLE
would fire ON DELETE actions in other tables.
"""

from __future__ import annotations

import re
import sqlite3

from zarchd.core.errors import MigrationError
from zarchd.core.progress import Progress, no_progress
from zarchd.db.registry import column_names, quote_ident, table_names

_CREATE = r"^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"


def rebuild_table(
    conn: sqlite3.Connection,
    table: str,
    new_create_sql: str,
    select_columns: str | None = None,
    progress: Progress = no_progress,
) -> None:
    """Rebuild `table` as `new_create_sql` (a CREATE TABLE statement naming `table`).

    `select_columns` is the SELECT list copied from the old table, in the new table's column
    order (`INSERT INTO new SELECT <select_columns> FROM old`); by default the columns both
    tables share, by name.
    """
    if not conn.in_transaction:
        raise MigrationError(
            f"rebuilding table {table}: must run inside the migration's transaction"
        )
    if conn.execute("PRAGMA foreign_keys").fetchone()[0]:
        raise MigrationError(
            f"rebuilding table {table}: foreign keys must be OFF (turn them off "
            "before BEGIN; the migration runner does)"
        )
    if table not in table_names(conn):
        raise MigrationError(f"rebuilding table {table}: no such table")
    try:
        _rebuild(conn, table, new_create_sql, select_columns, progress)
    except sqlite3.Error as exc:
        raise MigrationError(f"rebuilding table {table} failed: {exc}") from exc


def _rebuild(
    conn: sqlite3.Connection,
    table: str,
    new_create_sql: str,
    select_columns: str | None,
    progress: Progress,
) -> None:
    temp = f"zarchd_new_{table}"
    qt, qtemp = quote_ident(table), quote_ident(temp)
    create_temp = _retarget(new_create_sql, table, qtemp)
    # Step 3: remember the table's own indexes and triggers, and the views that read it.
    own = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger')"
        " AND sql IS NOT NULL ORDER BY rowid",
        (table,),
    ).fetchall()
    views = [
        (name, sql)
        for name, sql in conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'view' ORDER BY rowid"
        )
        if _mentions(sql, table)
    ]
    sequence = _sequence(conn, table)

    progress({"stage": "rebuild", "table": table, "step": "copy"})
    conn.execute(create_temp)
    if select_columns is None:
        old = set(column_names(conn, table))
        shared = ", ".join(quote_ident(c) for c in column_names(conn, temp) if c in old)
        conn.execute(f"INSERT INTO {qtemp} ({shared}) SELECT {shared} FROM {qt}")
    else:
        conn.execute(f"INSERT INTO {qtemp} SELECT {select_columns} FROM {qt}")

    progress({"stage": "rebuild", "table": table, "step": "swap"})
    for name, _sql in reversed(views):
        conn.execute(f"DROP VIEW {quote_ident(name)}")
    conn.execute(f"DROP TABLE {qt}")
    # Legacy rename: do not rewrite or re-check triggers of OTHER tables that name `table`;
    # they will find the new table under the old name, as intended.
    legacy = conn.execute("PRAGMA legacy_alter_table").fetchone()[0]
    conn.execute("PRAGMA legacy_alter_table = ON")
    try:
        conn.execute(f"ALTER TABLE {qtemp} RENAME TO {qt}")
    finally:
        conn.execute(f"PRAGMA legacy_alter_table = {int(legacy)}")

    progress({"stage": "rebuild", "table": table, "step": "recreate"})
    for _name, sql in own:
        conn.execute(sql)
    for name, sql in views:
        conn.execute(sql)
        conn.execute(f"SELECT * FROM {quote_ident(name)} LIMIT 0").fetchall()  # still valid?
    if sequence is not None:
        # AUTOINCREMENT must never reuse an id the old table handed out.
        conn.execute(
            "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", (sequence, table)
        )
        conn.execute(
            "INSERT INTO sqlite_sequence (name, seq) SELECT ?, ? WHERE NOT EXISTS "
            "(SELECT 1 FROM sqlite_sequence WHERE name = ?)",
            (table, sequence, table),
        )
    problems = conn.execute("PRAGMA foreign_key_check").fetchall()
    if problems:
        raise MigrationError(f"rebuilding table {table}: foreign key violations {problems[:5]}")


def _retarget(create_sql: str, table: str, new_name: str) -> str:
    """`create_sql` with its table name replaced by `new_name`."""
    names = [
        re.escape(table),
        re.escape(quote_ident(table)),
        re.escape(f"`{table}`"),
        re.escape(f"[{table}]"),
    ]
    pattern = re.compile(_CREATE + r"(?:" + "|".join(names) + r")(?=[\s(]|$)", re.IGNORECASE)
    match = pattern.match(create_sql)
    if not match:
        raise MigrationError(
            f"rebuilding table {table}: the new definition must be a CREATE TABLE {table} statement"
        )
    return "CREATE TABLE " + new_name + create_sql[match.end() :]


def _mentions(sql: str, name: str) -> bool:
    return re.search(r"(?<![\w$])" + re.escape(name) + r"(?![\w$])", sql, re.IGNORECASE) is not None


def _sequence(conn: sqlite3.Connection, table: str) -> int | None:
    if "sqlite_sequence" not in table_names(conn):
        return None
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
    return None if row is None else int(row[0])
