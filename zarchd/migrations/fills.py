"""0002's NULL fills, written with the fewest passes over archives.

One `UPDATE archives SET c = '' WHERE c IS NULL` per column reads the whole table each time and
rewrites a row once per column it fills (at 1M rows: six scans, and every row with a NULL
metadata written again right after the uid backfill wrote it). Columns no index covers are
cheap to set on rows that already change: the backfill's UPDATE sets them on its rows, and one
UPDATE with all of them catches the rest. Setting an indexed column costs an index update per
row even when its value stays the same, so those keep their own `WHERE c IS NULL` statement,
which touches only the rows that need it, unless most rows need it: then the column is folded
too and its indexes are dropped before the backfill and created again from their own SQL after
the fills, in the same transaction (at 1M rows with 80 % NULL destinations: building
idx_archives_destination 0.4 s, against 1.3 s for the separate UPDATE; an index maintained
through a fold cost 0.9 s). With a partial or expression index on archives, or a trigger,
nothing is folded (which columns they read is not known here): one statement each.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from zarchd.db.registry import column_names, quote_ident


@dataclass(frozen=True)
class Fill:
    column: str
    value: str  # an SQL literal: '' for text, 0 for booleans, 'present' for status


# A column is folded in spite of its indexes when at least this share of the rows has a NULL
# there: the break-even measured at 1M rows (an index build costs about 0.36 us a row, a
# separate UPDATE about 1.6 us a NULL row), rounded towards the separate UPDATE.
REBUILD_SHARE = 0.25


@dataclass(frozen=True)
class Rebuilt:
    name: str
    sql: str  # as sqlite_master holds it: creates the same index again


@dataclass(frozen=True)
class FillPlan:
    folded: tuple[Fill, ...]  # set along with the backfill, then in one UPDATE
    separate: tuple[Fill, ...]  # each its own UPDATE ... WHERE c IS NULL
    rebuilt: tuple[Rebuilt, ...] = ()  # dropped first, made again after the fills

    def drops(self) -> list[str]:
        """Run before the backfill: the indexes the folded fills would otherwise maintain."""
        return [f"DROP INDEX {_q(r.name)}" for r in self.rebuilt]

    def recreates(self) -> list[str]:
        """Run after statements(): the dropped indexes, each as its own SQL made it."""
        return [r.sql for r in self.rebuilt]

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
    indexes = _indexes(conn)
    if indexes is None:
        return FillPlan((), tuple(present))
    rows = None
    folded, separate, rebuilt = [], [], {}
    for fill in present:
        covering = [i for i in indexes if fill.column in i.columns]
        if not covering:
            folded.append(fill)
            continue
        if rows is None:
            rows = conn.execute("SELECT count(*) FROM archives").fetchone()[0]
        nulls = _nulls(conn, fill.column) if all(i.sql for i in covering) else 0
        if nulls and nulls >= REBUILD_SHARE * rows:
            folded.append(fill)
            rebuilt.update({i.name: Rebuilt(i.name, i.sql) for i in covering if i.sql})
        else:
            separate.append(fill)
    return FillPlan(tuple(folded), tuple(separate), tuple(rebuilt.values()))


@dataclass(frozen=True)
class _Index:
    name: str
    columns: frozenset[str]
    sql: str | None  # None: made by a UNIQUE or PRIMARY KEY constraint, cannot be dropped


def _indexes(conn: sqlite3.Connection) -> list[_Index] | None:
    """The indexes of archives and their columns; None when what they read cannot be told from
    the index columns alone (a partial or expression index, a trigger on archives)."""
    triggers = conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'archives'"
    ).fetchone()[0]
    if triggers:
        return None
    found = []
    for _seq, name, _unique, _origin, partial in conn.execute("PRAGMA index_list(archives)"):
        if partial:
            return None
        columns = set()
        for _rank, cid, column in conn.execute(f"PRAGMA index_info({quote_ident(name)})"):
            if cid == -2:  # an expression
                return None
            if column is not None:  # None: the rowid itself (-1)
                columns.add(column)
        sql = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)
        ).fetchone()[0]
        found.append(_Index(name, frozenset(columns), sql))
    return found


def _nulls(conn: sqlite3.Connection, column: str) -> int:
    """NULLs in an indexed column: counted in its index, without reading the table."""
    query = f"SELECT count(*) FROM archives WHERE {_q(column)} IS NULL"
    return int(conn.execute(query).fetchone()[0])


def _q(column: str) -> str:
    return quote_ident(column)
