"""0002's NULL fills, written with the fewest passes over archives.

One `UPDATE archives SET c = '' WHERE c IS NULL` per column reads the whole table each time and
rewrites a row once per column it fills (at 1M rows: six scans, and every row with a NULL
metadata written again right after the uid backfill wrote it). Columns no index covers are
cheap to set on rows that already change: the backfill's UPDATE sets them on its rows, and one
UPDATE with all of them catches the rest. Setting an indexed column costs an index update per
row even when its value stays the same, so those keep their own `WHERE c IS NULL` statement,
which touches only the rows that need it. With a partial or expression index on archives, or a
trigger, nothing is folded (which columns they read is not known here): one statement each.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from zarchd.db.registry import column_names, quote_ident


@dataclass(frozen=True)
class Fill:
    column: str
    value: str  # an SQL literal: '' for text, 0 for booleans, 'present' for status


@dataclass(frozen=True)
class FillPlan:
    folded: tuple[Fill, ...]  # set along with the backfill, then in one UPDATE
    separate: tuple[Fill, ...]  # each its own UPDATE ... WHERE c IS NULL

    def assignments(self) -> tuple[str, ...]:
        """SET assignments for the folded fills, harmless on a row without NULLs."""
        return tuple(f"{_q(f.column)} = coalesce({_q(f.column)}, {f.value})" for f in self.folded)

    def statements(self) -> list[str]:
        """The UPDATEs that leave no NULL in any of the columns (after the backfill or not)."""
        out = []
        if self.folded:
            where = " OR ".join(f"{_q(f.column)} IS NULL" for f in self.folded)
            out.append(f"UPDATE archives SET {', '.join(self.assignments())} WHERE {where}")
        out += [
            f"UPDATE archives SET {_q(f.column)} = {f.value} WHERE {_q(f.column)} IS NULL"
            for f in self.separate
        ]
        return out


def plan_fills(conn: sqlite3.Connection, fills: tuple[Fill, ...]) -> FillPlan:
    """Which fills can ride on other writes of archives (see the module's docstring)."""
    present = [f for f in fills if f.column in column_names(conn, "archives")]
    indexed = _indexed_columns(conn)
    if indexed is None:
        return FillPlan((), tuple(present))
    return FillPlan(
        tuple(f for f in present if f.column not in indexed),
        tuple(f for f in present if f.column in indexed),
    )


def _indexed_columns(conn: sqlite3.Connection) -> set[str] | None:
    """The columns of archives some index covers; None when that cannot be told from the index
    columns alone (a partial or expression index, a trigger on archives)."""
    triggers = conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'archives'"
    ).fetchone()[0]
    if triggers:
        return None
    columns: set[str] = set()
    for _seq, name, _unique, _origin, partial in conn.execute("PRAGMA index_list(archives)"):
        if partial:
            return None
        for _rank, cid, column in conn.execute(f"PRAGMA index_info({quote_ident(name)})"):
            if cid == -2:  # an expression
                return None
            if column is not None:  # None: the rowid itself (-1)
                columns.add(column)
    return columns


def _q(column: str) -> str:
    return quote_ident(column)
