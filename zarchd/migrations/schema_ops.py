"""Small schema questions and idempotent changes used by the built-in migrations."""

from __future__ import annotations

import sqlite3

from zarchd.db.registry import column_names, index_names, quote_ident, table_names


def has_table(conn: sqlite3.Connection, table: str) -> bool:
    return table in table_names(conn)


def has_index(conn: sqlite3.Connection, index: str) -> bool:
    return index in index_names(conn)


def has_column(conn: sqlite3.Connection, table: str, column: str) -> bool:
    return column in column_names(conn, table)


def add_column_if_missing(conn: sqlite3.Connection, table: str, column: str, decl: str) -> bool:
    """ALTER TABLE ADD COLUMN unless the column exists; True when it was added."""
    if has_column(conn, table, column):
        return False
    conn.execute(f"ALTER TABLE {quote_ident(table)} ADD COLUMN {quote_ident(column)} {decl}")
    return True


def _indexes(conn: sqlite3.Connection, table: str) -> list[tuple[str, bool, list[str]]]:
    """(name, made by a UNIQUE/PRIMARY KEY constraint, columns) for every index of `table`."""
    found = []
    for _seq, name, _unique, origin, _partial in conn.execute(
        f"PRAGMA index_list({quote_ident(table)})"
    ).fetchall():
        columns = [r[2] for r in conn.execute(f"PRAGMA index_info({quote_ident(name)})")]
        found.append((name, origin != "c", columns))
    return found


def drop_column_if_present(conn: sqlite3.Connection, table: str, column: str) -> bool:
    """Drop `column` and the named indexes on it; True when it was there.

    SQLite refuses DROP COLUMN for a column in an index, so those indexes go first. A column
    under a UNIQUE/PRIMARY KEY constraint cannot be dropped this way (callers rebuild instead).
    """
    if not has_column(conn, table, column):
        return False
    for name, by_constraint, columns in _indexes(conn, table):
        if column in columns and not by_constraint:
            conn.execute(f"DROP INDEX {quote_ident(name)}")
    conn.execute(f"ALTER TABLE {quote_ident(table)} DROP COLUMN {quote_ident(column)}")
    return True


def constrained_columns(conn: sqlite3.Connection, table: str) -> set[str]:
    """Columns covered by an index SQLite made for a UNIQUE or PRIMARY KEY constraint."""
    return {
        c
        for _name, by_constraint, columns in _indexes(conn, table)
        if by_constraint
        for c in columns
    }
