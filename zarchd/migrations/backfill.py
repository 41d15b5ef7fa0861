"""The uid backfill of 0002: one set-based UPDATE calling a SQL function that makes each row a
ULID from its own `created` time.

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


def backfill_uids(ctx: StepContext) -> int:
    """Give every row without a uid a ULID in one UPDATE, reporting progress; returns the count.
    Runs under the migration's progress handler, which interrupts it past the deadline."""
    conn = ctx.conn
    total = conn.execute(f"SELECT count(*) FROM archives WHERE {_NO_UID}").fetchone()[0]
    ctx.check_deadline()
    if total == 0:
        return 0
    taken = {
        r[0] for r in conn.execute(f"SELECT substr(uid, 1, 12) FROM archives WHERE NOT ({_NO_UID})")
    }
    maker = UidMaker(taken)
    done = 0
    late = False
    # A stage of its own, counted in rows: the slow part of 0002 on a big registry.
    rows = {"stage": "backfill", "unit": "rows", "of": ctx.migration_id, "total": total}
    ctx.report(phase="start", done=0, **rows)

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
    ctx.report(phase="end", done=done, **rows)
    return done
