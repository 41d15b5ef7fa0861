"""Schema drift: the live schema against what the recorded built-in migrations should have made
(tables, columns, indexes, uids), and the repair that re-applies their idempotent steps.

A registry can say `0003_trash_fields` is applied while its columns are gone (a hand edit, a
restore of a mixed file): 7zarch-go then fails (`no such column: deleted_at`). Application
migrations are plain SQL whose effect zarchd cannot know, so only built-ins are compared.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from zarchd.core.errors import MigrationError
from zarchd.db.registry import connect, integrity_check
from zarchd.migrations.builtins import BUILTINS, verify
from zarchd.migrations.context import StepContext
from zarchd.migrations.ledger import read_applied
from zarchd.migrations.schema_ops import has_table


@dataclass
class Drift:
    migration: str
    problems: list[str]

    def to_json(self) -> dict[str, object]:
        return {"migration": self.migration, "problems": list(self.problems)}


@dataclass
class RepairPlan:
    drift: list[Drift] = field(default_factory=list)
    unreadable: list[Drift] = field(default_factory=list)  # data 7zarch-go cannot read
    refused: list[str] = field(default_factory=list)  # why a repair cannot be done

    @property
    def reapply(self) -> list[str]:
        wanted = {d.migration for d in self.drift + self.unreadable}
        return [b.id for b in BUILTINS if b.id in wanted]


def find_drift(conn: sqlite3.Connection) -> list[Drift]:
    """Every recorded (or inferred) built-in whose effect is not all there, in catalog order."""
    applied = {a.id for a in read_applied(conn)}
    found = []
    for builtin in BUILTINS:
        if builtin.id not in applied:
            continue
        problems = verify(builtin, StepContext(conn, builtin.id))
        if problems:
            found.append(Drift(builtin.id, problems))
    return found


def find_unreadable(conn: sqlite3.Connection) -> list[Drift]:
    """Values 7zarch-go cannot read in the columns of recorded built-ins (NULL where it scans a
    plain string or bool): a warning, since rows written by other tools may hold them too."""
    applied = {a.id for a in read_applied(conn)}
    found = []
    for builtin in BUILTINS:
        if (
            builtin.id in applied
            and builtin.check_readable is not None
            and has_table(conn, "archives")
        ):
            problems = builtin.check_readable(conn)
            if problems:
                found.append(Drift(builtin.id, problems))
    return found


def plan_repair(conn: sqlite3.Connection) -> RepairPlan:
    """What a repair would re-apply, and what it cannot: the archives table itself gone means the
    data is gone, which only a restore brings back."""
    plan = RepairPlan(find_drift(conn), find_unreadable(conn))
    if plan.drift and not has_table(conn, "archives"):
        plan.refused.append(
            "the archives table is missing: its data cannot be re-created; "
            "restore a backup (`zarchctl backups`, `zarchctl restore NAME`)"
        )
    return plan


def apply_repair(conn: sqlite3.Connection, plan: RepairPlan) -> list[str]:
    """Re-run the up step of each built-in in the plan, in order (they look before they act);
    the caller holds the transaction. Returns the problems left (empty when repaired)."""
    wanted = set(plan.reapply)
    for builtin in BUILTINS:
        if builtin.id in wanted:
            builtin.up(StepContext(conn, builtin.id, stage="repair"))
    left = find_drift(conn) + find_unreadable(conn)
    return [f"{d.migration}: {p}" for d in left for p in d.problems]


def inspect_repair(registry: Path) -> RepairPlan:
    """The plan, read-only."""
    conn = connect(registry, readonly=True)
    try:
        return plan_repair(conn)
    finally:
        conn.close()


def repair(registry: Path, before_apply: Callable[[], None]) -> RepairPlan:
    """Re-apply the drifted built-ins' steps in one BEGIN IMMEDIATE transaction, `before_apply`
    (the backup) first; all or nothing. Raises MigrationError, nothing changed, where it cannot."""
    plan = inspect_repair(registry)
    if plan.refused:
        raise MigrationError("cannot repair: " + "; ".join(plan.refused))
    if not plan.reapply:
        return plan
    before_apply()
    conn = connect(registry)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            plan = plan_repair(conn)  # under the lock now: someone may have changed it
            if plan.refused:
                raise MigrationError("cannot repair: " + "; ".join(plan.refused))
            left = apply_repair(conn, plan)
            quick = integrity_check(conn, quick=True, max_errors=5)
            if quick != ["ok"]:
                left.append("quick_check: " + "; ".join(quick))
            if left:
                raise MigrationError(
                    "cannot repair (rolled back, nothing changed): "
                    + "; ".join(left)
                    + "; restore a backup instead"
                )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise MigrationError(
                f"repair failed and was rolled back, nothing changed: {exc}"
            ) from exc
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
    finally:
        conn.close()
    return plan
