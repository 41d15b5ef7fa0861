"""The `status` report: registry, migrations, backups and last error.

Scripts rely on its fields (`zarchctl status --json`); docs/ARCHITECTURE.md lists them.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict
from typing import Any, TypedDict, cast

from zarchd import backups, migrations
from zarchd.app.operations import Operations
from zarchd.app.results import (
    AppliedJson,
    BackupJson,
    BackupsReport,
    ChangedJson,
    DaemonInfo,
    DriftJson,
    RegistryReport,
    StatusReport,
)
from zarchd.core.errors import BackupError, ZarchError
from zarchd.db.registry import check_file, file_facts


class _Integrity(TypedDict):
    integrity: str | None
    integrity_problems: list[str]
    integrity_checked_at: str | None


# A quick_check on every `status` is cheap for registries up to this size; above it, status
# reports the last periodic check instead of reading the whole file each time.
QUICK_CHECK_LIMIT = 64 * 1024 * 1024


def registry_report(ops: Operations, state: dict[str, Any]) -> RegistryReport:
    facts = file_facts(ops.registry)
    report: RegistryReport = {
        "path": str(ops.registry),
        "exists": facts.exists,
        "size_bytes": facts.size_bytes,
        "journal_mode": facts.journal_mode,
        "integrity": "missing" if not facts.exists else None,
        "integrity_checked_at": None,
        "schema_version": None,
        "applied": [],
        "pending": [],
        "changed": [],
        "unknown": [],
        "schema_drift": [],
        "unreadable_by_7zarch_go": [],
        "app_version": ops.app_version(),
    }
    empty = ops.empty_problem() if facts.exists and facts.size_bytes == 0 else None
    if empty:  # SQLite calls a 0-byte file a sound empty database; it held data
        report["integrity"] = "damaged"
        report["integrity_problems"] = [empty]
        report["integrity_checked_at"] = "now (empty file)"
    elif facts.exists:
        found = _integrity(ops, facts.size_bytes, state.get("last_check") or {})
        report["integrity"] = found["integrity"]
        report["integrity_problems"] = found["integrity_problems"]
        report["integrity_checked_at"] = found["integrity_checked_at"]
    else:
        report["problem"] = ops.missing_problem()
    try:
        status = migrations.inspect(ops.registry, ops.catalog())
    except ZarchError as exc:
        report["migrations_error"] = exc.message
        return report
    except sqlite3.DatabaseError as exc:
        report["migrations_error"] = f"cannot read the schema: {exc}"
        return report
    report["schema_version"] = status.schema_version
    report["applied"] = [cast(AppliedJson, asdict(a)) for a in status.applied]
    report["pending"] = [{"id": m.id, "name": m.name} for m in status.pending]
    report["changed"] = cast(list[ChangedJson], list(status.changed))
    report["unknown"] = list(status.unknown)
    report["schema_drift"] = cast(list[DriftJson], list(status.drift))
    report["unreadable_by_7zarch_go"] = cast(list[DriftJson], list(status.unreadable))
    return report


def _integrity(ops: Operations, size: int, last: dict[str, Any]) -> _Integrity:
    if size <= QUICK_CHECK_LIMIT:
        try:
            # A short lock wait: status must answer while 7zarch-go holds a long write.
            problems = check_file(ops.registry, quick=True, timeout=1.0)
        except ZarchError as exc:  # locked by a writer, unreadable: not known to be damaged
            return {
                "integrity": "unknown",
                "integrity_problems": [exc.message],
                "integrity_checked_at": None,
            }
        return {
            "integrity": "ok" if problems == ["ok"] else "damaged",
            "integrity_problems": [] if problems == ["ok"] else problems[:5],
            "integrity_checked_at": "now (quick_check)",
        }
    if not last:
        return {"integrity": "unknown", "integrity_problems": [], "integrity_checked_at": None}
    return {
        "integrity": "ok" if last.get("ok") else "damaged",
        "integrity_problems": last.get("problems", [])[:5] if not last.get("ok") else [],
        "integrity_checked_at": last.get("at"),
    }


def backups_report(ops: Operations, next_run: str | None) -> BackupsReport:
    try:
        items = backups.list_backups(ops.registry, ops.store)
    except BackupError as exc:  # status still reports everything else, and says what is wrong
        return {
            "dir": str(ops.store),
            "count": 0,
            "ours": 0,
            "total_bytes": 0,
            "next_run": next_run,
            "latest": None,
            "problem": exc.message,
        }
    ours = [b for b in items if b.ours]
    latest = ours[-1] if ours else None
    return {
        "dir": str(ops.store),
        "count": len(items),
        "ours": len(ours),
        "total_bytes": sum(b.size_bytes for b in items),
        "next_run": next_run,
        "latest": cast(BackupJson, latest.to_json()) if latest else None,
    }


def build_status(
    ops: Operations, daemon: DaemonInfo | None = None, next_run: str | None = None
) -> StatusReport:
    state = ops.state.snapshot()  # one read: the parts of the report agree with each other
    return {
        "daemon": daemon or {"running": False},
        "registry": registry_report(ops, state),
        "backups": backups_report(ops, next_run),
        "retention": asdict(ops.config.retention),
        "last_check": state.get("last_check"),
        "last_error": state.get("last_error"),
    }
