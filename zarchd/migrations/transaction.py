"""One migration step (up or down) as one transaction: BEGIN IMMEDIATE, the step, its record,
validation, COMMIT; ROLLBACK on anything else. There is never a half-applied or "dirty" state:
the step and its record commit together or not at all."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from dataclasses import dataclass

from zarchd.core.errors import MigrationError, MigrationTimeout, ZarchError
from zarchd.core.progress import Progress
from zarchd.db.registry import integrity_check, quote_ident
from zarchd.migrations import ledger, limits
from zarchd.migrations.builtins import BY_ID, verify
from zarchd.migrations.context import DeadlinePassed, StepContext
from zarchd.migrations.gate import BackupGate
from zarchd.migrations.model import Migration
from zarchd.migrations.sqltext import split_statements

PROGRESS_STEPS = 1000  # VM instructions between deadline checks
# How long a step holds the write lock at its COMMIT for the backup beside it (gate.py).
HOLD_S = 0.5


@dataclass
class StepOutcome:
    ran: bool  # False: another migrator did it first (found under our lock)
    found_present: bool = False
    duration_s: float = 0.0


def run_step(
    conn: sqlite3.Connection,
    migration: Migration,
    *,
    up: bool,
    timeout: float,
    app_version: str,
    progress: Progress,
    version_before: str | None,
    gate: BackupGate | None = None,
) -> StepOutcome:
    foreign_keys = conn.execute("PRAGMA foreign_keys").fetchone()[0]
    if foreign_keys:
        conn.execute("PRAGMA foreign_keys = OFF")  # no effect inside a transaction: do it first
    try:
        for _ in range(2):  # once more when it was rolled back to wait for the backup
            try:
                return _in_transaction(
                    conn,
                    migration,
                    up=up,
                    timeout=timeout,
                    app_version=app_version,
                    progress=progress,
                    version_before=version_before,
                    gate=gate,
                )
            except _StepAgain:
                continue  # the backup passed meanwhile: the gate is open now
        raise AssertionError("a step is run again at most once")  # pragma: no cover
    finally:
        if foreign_keys:
            conn.execute("PRAGMA foreign_keys = ON")


def _in_transaction(
    conn: sqlite3.Connection,
    migration: Migration,
    *,
    up: bool,
    timeout: float,
    app_version: str,
    progress: Progress,
    version_before: str | None,
    gate: BackupGate | None = None,
) -> StepOutcome:
    verb = "migration" if up else "rollback of"
    try:
        conn.execute("BEGIN IMMEDIATE")  # lock waits are bounded by the busy timeout
    except sqlite3.OperationalError as exc:
        raise MigrationError(
            f"{verb} {migration.id} could not start: {exc} (another process is "
            "changing the registry; try again when it is done)"
        ) from exc
    started = time.monotonic()
    limit = limits.step_limit(timeout, limits.registry_bytes(conn))
    deadline = started + limit
    timed_out = False

    def past_deadline() -> int:
        nonlocal timed_out
        if time.monotonic() > deadline:
            timed_out = True
        return int(timed_out)

    conn.set_progress_handler(past_deadline, PROGRESS_STEPS)
    try:
        # Under the lock now: another migrator may have done this step meanwhile.
        recorded = migration.id in ledger.recorded_ids(conn)
        if recorded != (not up):
            conn.execute("ROLLBACK")
            return StepOutcome(ran=False)
        ctx = StepContext(conn, migration.id, "migrate" if up else "rollback", progress, deadline)
        schema_before = _schema_rows(conn)
        _execute(ctx, migration, up)
        duration = time.monotonic() - started
        if up:
            ledger.record(
                conn, migration, duration_ms=round(duration * 1000), app_version=app_version
            )
        else:
            ledger.unrecord(conn, migration.id)
        problems = _validate(ctx, migration, up, schema_before=schema_before)
        if problems:
            raise MigrationError("validation failed: " + "; ".join(problems))
        if gate is not None and not gate.open:
            _wait_for_backup(conn, gate, progress)
        conn.execute("COMMIT")
        return StepOutcome(ran=True, found_present=ctx.found_present, duration_s=duration)
    except _StepAgain:
        raise
    except _BackupFailed as failed:
        raise type(failed.error)(
            f"{failed.error.message}; {verb} {migration.id} was rolled back, nothing was changed"
        ) from failed.error
    except Exception as exc:
        _rollback(conn)  # handler removed first: a ROLLBACK must not be interrupted
        if timed_out or isinstance(exc, DeadlinePassed):
            raise MigrationTimeout(
                f"{verb} {migration.id} took longer than its limit of "
                f"{limits.describe(limit, timeout)}; it was "
                "interrupted and rolled back, "
                f"the registry stays at {version_before or 'no schema'}"
            ) from exc
        if isinstance(exc, (sqlite3.Error, ZarchError)):
            detail = exc.message if isinstance(exc, ZarchError) else f"{exc}"
            raise MigrationError(
                f"{verb} {migration.id} failed: {detail}; it was rolled back, the registry "
                f"stays at {version_before or 'no schema'}"
            ) from exc
        raise
    except BaseException:
        _rollback(conn)
        raise
    finally:
        conn.set_progress_handler(None, 0)


def _wait_for_backup(conn: sqlite3.Connection, gate: BackupGate, progress: Progress) -> None:
    """The backup's check ran beside this step; nothing commits before it passed. Its failure
    is its own error (a BackupError, an IntegrityFailure), raised after the rollback. Under the
    write lock only HOLD_S: longer, the step is rolled back and run again after the backup
    (_StepAgain), so writers wait for the step's work, never for the backup's check too."""
    conn.set_progress_handler(None, 0)  # the wait is the backup's, not this step's work
    try:
        if gate.pass_through(progress, HOLD_S):
            return
        _rollback(conn)
        gate.pass_through(progress)
    except ZarchError as exc:
        _rollback(conn)
        raise _BackupFailed(exc) from exc
    raise _StepAgain


class _StepAgain(Exception):
    """The step was rolled back to wait for the backup without the lock: run it again."""


class _BackupFailed(Exception):
    """Carries the backup's error past the step's own error handling, unchanged."""

    def __init__(self, error: ZarchError) -> None:
        super().__init__(error.message)
        self.error = error


def _execute(ctx: StepContext, migration: Migration, up: bool) -> None:
    if migration.builtin:
        builtin = BY_ID[migration.id]
        step = builtin.up if up else builtin.down
        if step is None:
            raise MigrationError(f"{migration.id} has no down migration")
        step(ctx)
        return
    sql = migration.up_sql if up else migration.down_sql
    if sql is None:
        raise MigrationError(f"{migration.id} has no down migration")
    for statement in split_statements(sql):
        for _row in ctx.conn.execute(statement):  # step SELECTs to the end, discard rows
            pass


def _schema_rows(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    # The rows themselves, not schema_version: a direct sqlite_master edit does not bump it.
    return conn.execute(
        "SELECT type, name, tbl_name, rootpage, sql FROM sqlite_master ORDER BY rowid"
    ).fetchall()


def _schema_parses(conn: sqlite3.Connection) -> list[str]:
    """Problems when the schema as now written (uncommitted, in this transaction) does not parse.

    A connection keeps its parsed schema; a direct edit of sqlite_master is only seen by the next
    connection, after COMMIT, when it is too late. RESET drops this connection's parsed copy (and
    any writable_schema left on), so the next statement reparses what is on the page.
    """
    try:
        conn.execute("PRAGMA writable_schema = RESET")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        return [f"the schema no longer parses: {exc}"]
    return []


def _validate(
    ctx: StepContext,
    migration: Migration,
    up: bool,
    *,
    schema_before: list[tuple[object, ...]] | None = None,
) -> list[str]:
    problems = _schema_parses(ctx.conn)
    if problems:
        return problems  # nothing else can be checked against an unreadable schema
    schema_changed = schema_before is None or _schema_rows(ctx.conn) != schema_before
    # A built-in that only creates new tables (0004, 0005) cannot have harmed any other: checking
    # just its tables spares a quick_check of the whole registry (1.3 s at 1M rows) per step.
    scope = BY_ID[migration.id].touches if up and migration.builtin else ()
    for table in scope or (None,):
        arg = f"({quote_ident(table)})" if table is not None else ""
        violations = ctx.conn.execute(f"PRAGMA foreign_key_check{arg}").fetchmany(5)
        if violations:
            problems.append(f"foreign key violations (table, rowid, parent, fkid): {violations}")
    # A file migration that changed the schema gets the full check (quick_check skips index
    # contents, which a sqlite_master edit can leave wrong). The built-ins never edit
    # sqlite_master, and SQLite builds what their DDL creates: quick_check is enough for them,
    # and the full check (8 s at 1M rows) was most of the upgrade's time.
    full = schema_changed and not migration.builtin
    for table in scope or (None,):
        check = integrity_check(ctx.conn, quick=not full, max_errors=5, table=table)
        if check != ["ok"]:
            problems.append(("integrity_check: " if full else "quick_check: ") + "; ".join(check))
    if up and migration.builtin:
        problems += verify(BY_ID[migration.id], ctx)
    return problems


def _rollback(conn: sqlite3.Connection) -> None:
    conn.set_progress_handler(None, 0)
    if conn.in_transaction:
        # sqlite3.Error: SQLite already rolled back (e.g. after an interrupt); nothing is kept
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
