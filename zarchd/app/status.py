"""The `status` report: registry, migrations, backups and last error.

Scripts rely on its fields (`zarchctl status --json`); docs/ARCHITECTURE.md lists them.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict
from datetime import datetime
from typing import Any, TypedDict, cast

from zarchd import backups, migrations
from zarchd.app.operations import Operations
from zarchd.app.remotes import remotes_report
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
from zarchd.core.clock import parse_iso
from zarchd.core.errors import BackupError, RegistryError, ZarchError
from zarchd.db.fingerprint import fingerprint
from zarchd.db.registry import check_file, file_facts


class _Integrity(TypedDict):
    integrity: str | None
    integrity_problems: list[str]
    integrity_checked_at: str | None
    integrity_method: str | None
    integrity_age_s: float | None
    integrity_stale: bool


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
        "integrity_method": None,
        "integrity_age_s": None,
        "integrity_stale": False,
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
        report["integrity_method"] = "empty file"
        report["integrity_age_s"] = 0.0
    elif facts.exists:
        found = _integrity(ops, facts.size_bytes, state.get("last_check") or {})
        report["integrity"] = found["integrity"]
        report["integrity_problems"] = found["integrity_problems"]
        report["integrity_checked_at"] = found["integrity_checked_at"]
        report["integrity_method"] = found["integrity_method"]
        report["integrity_age_s"] = found["integrity_age_s"]
        report["integrity_stale"] = found["integrity_stale"]
    else:
        report["problem"] = ops.missing_problem()
    try:
        # The same short lock wait as the quick_check: status answers during a long write.
        status = migrations.inspect(ops.registry, ops.catalog(), timeout=1.0)
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
    """The integrity answer, never stale without saying so (issue 13).

    Cost bound: a quick_check runs on each `status` only for files up to QUICK_CHECK_LIMIT;
    a larger file gets the last recorded check, and only while its stat-only fingerprint is
    the one recorded with that check; otherwise it is "unknown: not checked since it changed".
    A damage finding of the daemon's (periodic check, or a backup whose copy failed its check)
    wins over a fresh quick_check as long as the file has not changed since: quick_check
    misses what integrity_check finds.
    """
    now = ops.now()
    # The fingerprint (stat only) is taken only when a recorded check matters: not on the
    # common path of a small, sound registry.
    needed = bool(last) and (last.get("ok") is False or size > QUICK_CHECK_LIMIT)
    same_file = needed and _unchanged_since(ops, last)
    if last and last.get("ok") is False and same_file:
        return _from_last(last, now, "damaged")
    if size <= QUICK_CHECK_LIMIT:
        try:
            # A short lock wait: status must answer while 7zarch-go holds a long write.
            problems = check_file(ops.registry, quick=True, timeout=1.0)
        except ZarchError as exc:  # locked by a writer, unreadable: not known to be damaged
            return {
                "integrity": "unknown",
                "integrity_problems": [exc.message],
                "integrity_checked_at": None,
                "integrity_method": None,
                "integrity_age_s": None,
                "integrity_stale": False,
            }
        return {
            "integrity": "ok" if problems == ["ok"] else "damaged",
            "integrity_problems": [] if problems == ["ok"] else problems[:5],
            "integrity_checked_at": "now (quick_check)",
            "integrity_method": "quick_check",
            "integrity_age_s": 0.0,
            "integrity_stale": False,
        }
    if not last:
        return {
            "integrity": "unknown",
            "integrity_problems": ["never checked (too large to check on each status)"],
            "integrity_checked_at": None,
            "integrity_method": None,
            "integrity_age_s": None,
            "integrity_stale": False,
        }
    if not same_file and (last.get("ok") or last.get("fingerprint")):
        # (a damage record from before fingerprints were kept stays damage: never shown ok)
        found = _from_last(last, now, "unknown")
        found["integrity_problems"] = [
            f"not checked since it changed (last check {last.get('at')}: "
            f"{'ok' if last.get('ok') else 'damaged'}); run `zarchctl check`"
        ]
        found["integrity_stale"] = True
        return found
    return _from_last(last, now, "ok" if last.get("ok") else "damaged")


def _unchanged_since(ops: Operations, last: dict[str, Any]) -> bool:
    """The registry is the file the last check looked at (stat-only fingerprints agree)."""
    recorded = last.get("fingerprint") if last else None
    if not recorded:
        return False  # a check recorded before fingerprints were: cannot tell, so not trusted
    try:
        return bool(fingerprint(ops.registry) == recorded)
    except RegistryError:
        return False


def _from_last(last: dict[str, Any], now: datetime, integrity: str) -> _Integrity:
    at = parse_iso(last.get("at"))
    return {
        "integrity": integrity,
        "integrity_problems": [] if integrity == "ok" else list(last.get("problems") or [])[:5],
        "integrity_checked_at": last.get("at"),
        "integrity_method": last.get("method") or "integrity_check",
        "integrity_age_s": round((now - at).total_seconds(), 1) if at else None,
        "integrity_stale": False,
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
        "total_bytes": backups.bytes_on_disk(items),
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
        "last_resolved_error": state.get("last_resolved_error"),
        "remotes": remotes_report(ops.config, ops.now()),
    }
