"""The uid backfill of 0002: each row a ULID from its own `created` time, set-based in SQL
(uidsql) and, for the rows SQL cannot read exactly, one UPDATE calling a Python function.

7zarch-go shows the first 12 characters of a uid as the archive's ID and `show` resolves 12: that
prefix is 10 characters of time (48-bit ms) and only 2 of randomness (10 bits). Rows created in
the same millisecond (a bulk import, a coarse `created`) would share prefixes often, so the
function never hands out a 12-character prefix twice in one run, nor one a row already has: when
a millisecond's 1024 prefixes run short it moves on to the next millisecond, so uids still sort
by age within a few milliseconds of the row's real time.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from zarchd.migrations import uidsql
from zarchd.migrations.context import DeadlinePassed, StepContext
from zarchd.migrations.gotime import MAX_MS as _MAX_MS
from zarchd.migrations.gotime import created_ms
from zarchd.migrations.ulid import encode

FUNCTION = "zarchd_ulid"
REPORT_EVERY = 500  # rows between progress events (and deadline checks)
_TRIES_PER_MS = 8  # random draws in one millisecond before moving to the next
_NO_UID = "uid IS NULL OR uid = ''"


class UidMaker:
    """The SQL function's state: the 12-character prefixes already handed out or present."""

    def __init__(
        self,
        taken: set[str],
        now_ms: Callable[[], int] | None = None,
        randbits: Callable[[int], int] = secrets.randbits,
    ) -> None:
        self.taken = taken
        # ms -> a later ms that may still have room: rows sharing a crowded millisecond skip the
        # ones already found full instead of walking them again (linear, not quadratic).
        self._crowded: dict[int, int] = {}
        self._now_ms = now_ms or (lambda: time.time_ns() // 1_000_000)
        self._randbits = randbits

    def __call__(self, created: object) -> str:
        ms = created_ms(created)
        start = ms = self._now_ms() if ms is None else ms
        while ms in self._crowded:
            ms = self._crowded[ms]
        while True:
            for _ in range(_TRIES_PER_MS):
                uid = encode((ms << 80) | self._randbits(80))
                if uid[:12] not in self.taken:
                    self.taken.add(uid[:12])
                    if ms != start:
                        self._crowded[start] = ms
                    return uid
            nxt = ms + 1 if ms < _MAX_MS else 0  # this millisecond is crowded: the next one
            self._crowded[ms] = nxt
            ms = nxt


def backfill_uids(ctx: StepContext, also: tuple[str, ...] = (), *, column_new: bool = False) -> int:
    """Give every row without a uid a ULID, reporting progress; returns the count.

    One set-based UPDATE computed in SQL (uidsql) fills the rows whose `created` it can read
    exactly; one more UPDATE calling the Python maker fills the rest (rare layouts, crowded
    milliseconds). Both run under the migration's progress handler, which interrupts them past
    the deadline. `also`: SET assignments the set-based UPDATE makes on its rows as well (the
    caller makes them on the other rows). `column_new`: uid was added in this transaction, so
    no row has one yet (counting the rows then needs no scan of the table: 0.1 s at 1M rows)."""
    conn = ctx.conn
    if column_new:
        total = rows_in_all = conn.execute("SELECT count(*) FROM archives").fetchone()[0]
    else:
        # One scan for both: how many rows need a uid, and whether any row has one already.
        total, rows_in_all = conn.execute(
            f"SELECT count(*) FILTER (WHERE {_NO_UID}), count(*) FROM archives"
        ).fetchone()
    ctx.check_deadline()
    if total == 0:
        return 0
    # A stage of its own, counted in rows: the slow part of 0002 on a big registry.
    rows = {"stage": "backfill", "unit": "rows", "of": ctx.migration_id, "total": total}
    ctx.report(phase="start", done=0, **rows)
    done = _fill_in_sql(ctx, total, rows, also, some_have_uids=rows_in_all > total)
    if done < total:
        done += _fill_in_python(ctx, total, done, rows)
    ctx.report(phase="end", done=done, **rows)
    return done


def _existing_prefixes(conn: sqlite3.Connection) -> set[str]:
    """Upper case: ours are, and 7zarch-go matches a prefix ignoring case (`show 01hx...`)."""
    return {
        r[0]
        for r in conn.execute(
            f"SELECT upper(substr(uid, 1, 12)) FROM archives WHERE NOT ({_NO_UID})"
        )
    }


def _fill_in_sql(
    ctx: StepContext,
    total: int,
    rows: dict[str, Any],
    also: tuple[str, ...] = (),
    *,
    some_have_uids: bool = True,
) -> int:
    conn = ctx.conn
    if conn.execute("PRAGMA encoding").fetchone()[0] != "UTF-8":
        return 0  # uidsql builds text from UTF-8 bytes: the Python maker does every row
    late = False
    calls = 0

    def report() -> str:
        # Called for about one row in REPORT_EVERY (by rowid): the count is an estimate.
        nonlocal late, calls
        calls += 1
        ctx.report(phase="update", **{**rows, "done": min(calls * REPORT_EVERY, total)})
        if time.monotonic() > ctx.deadline:
            late = True
            raise DeadlinePassed(ctx.migration_id)
        return ""

    conn.create_function(uidsql.PROGRESS_FUNCTION, 0, report)
    try:
        conn.execute(uidsql.CREATE_MS)
        conn.execute(uidsql.FILL_MS)
        ctx.check_deadline()
        if not _proved_no_clashes(conn):
            conn.execute(uidsql.DROP_CLASHES)
        if some_have_uids:
            conn.execute(uidsql.CREATE_TAKEN)
            conn.executemany(
                f"INSERT OR IGNORE INTO {uidsql.TAKEN_TABLE} VALUES (?)",
                ((p,) for p in _existing_prefixes(conn)),
            )
            conn.execute(uidsql.DROP_TAKEN_CLASHES)
        ctx.check_deadline()
        return conn.execute(uidsql.update_sql(REPORT_EVERY, also)).rowcount
    except sqlite3.OperationalError:
        if late:
            raise DeadlinePassed(ctx.migration_id) from None
        raise
    finally:
        conn.create_function(uidsql.PROGRESS_FUNCTION, 0, None)
        for statement in uidsql.CLEAN_UP:
            conn.execute(statement)


def _proved_no_clashes(conn: sqlite3.Connection) -> bool:
    """True when no two rows would share a 12-character prefix (the unique index builds)."""
    try:
        conn.execute(uidsql.NO_CLASHES)
    except sqlite3.IntegrityError:
        return False
    return True


def _fill_in_python(ctx: StepContext, total: int, done_before: int, rows: dict[str, Any]) -> int:
    """The rows the SQL left: one UPDATE calling UidMaker, which never reuses a prefix."""
    conn = ctx.conn
    maker = UidMaker(_existing_prefixes(conn))
    done = done_before
    late = False

    def zarchd_ulid(created: object, _rowid: int) -> str:
        nonlocal done, late
        done += 1
        if done % REPORT_EVERY == 0:
            ctx.report(phase="update", done=done, **rows)
            if time.monotonic() > ctx.deadline:
                late = True
                raise DeadlinePassed(ctx.migration_id)
        return maker(created)

    conn.create_function(FUNCTION, 2, zarchd_ulid)  # not deterministic: fresh randomness per row
    try:
        conn.execute(f"UPDATE archives SET uid = {FUNCTION}(created, rowid) WHERE {_NO_UID}")
    except sqlite3.OperationalError:
        if late:
            raise DeadlinePassed(ctx.migration_id) from None
        raise
    finally:
        conn.create_function(FUNCTION, 2, None)
    return done - done_before
