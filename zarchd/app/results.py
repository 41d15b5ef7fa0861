"""The shape of every command's result: what the operations return, the socket carries as JSON
and zarchctl renders. TypedDicts, because the same plain dicts travel as JSON; mypy checks the
keys render.py reads. docs/STATUS.md describes the `status` fields one by one.

Cheap to import (the client's renderers use it): typing only.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

# ---- shared pieces ------------------------------------------------------------------------


class JobLogResult(TypedDict):
    """`zarchctl log`: the newest job history entries, oldest first (each as recorded by
    Operations: job, ok, at, duration_s, reason = who asked, and what it did)."""

    entries: list[dict[str, object]]
    kept: int  # how many the state file keeps at most


class BackupJson(TypedDict):
    name: str
    path: str
    created_at: str | None
    size_bytes: int
    verified: bool | None  # None: not made by zarchd (no sidecar)
    schema_version: str | None
    sha256: str | None
    ours: bool
    untrusted: bool
    check: NotRequired[str | None]  # "quick" or "integrity": the check its content got


class AppliedJson(TypedDict):
    id: str
    name: str
    applied_at: str | None
    inferred: bool


class PendingJson(TypedDict):
    id: str
    name: str


class PendingSqlJson(PendingJson):
    sql: str


class ChangedJson(TypedDict):
    id: str
    message: str


class DriftJson(TypedDict):
    migration: str
    problems: list[str]


class MigrationRunJson(TypedDict):
    """One migration applied or reverted by a run."""

    id: str
    name: NotRequired[str]
    duration_s: NotRequired[float]


# ---- status -------------------------------------------------------------------------------


class DaemonInfo(TypedDict):
    running: bool
    pid: NotRequired[int]
    version: NotRequired[str]
    uptime_s: NotRequired[float]
    paused: NotRequired[bool]
    app_version: NotRequired[str | None]
    migrated_for_app_version: NotRequired[str | None]
    socket: NotRequired[str]
    # zarchctl's own words when it read the registry itself: why (--local, or no daemon at
    # the socket it tried) and whether a daemon answers there after all.
    note: NotRequired[str]


class RegistryReport(TypedDict):
    path: str
    exists: bool
    size_bytes: int
    journal_mode: str | None
    integrity: str | None
    integrity_checked_at: str | None
    integrity_method: NotRequired[str | None]
    integrity_age_s: NotRequired[float | None]
    integrity_stale: NotRequired[bool]
    integrity_problems: NotRequired[list[str]]
    schema_version: str | None
    applied: list[AppliedJson]
    pending: list[PendingJson]
    changed: list[ChangedJson]
    unknown: list[str]
    schema_drift: list[DriftJson]
    unreadable_by_7zarch_go: list[DriftJson]
    app_version: str
    problem: NotRequired[str | None]
    migrations_error: NotRequired[str]


class BackupsReport(TypedDict):
    dir: str
    count: int
    ours: int
    total_bytes: int
    next_run: str | None
    latest: BackupJson | None
    problem: NotRequired[str]
    listed_at: NotRequired[str]  # the daemon's kept listing: when it was made


class LastCheck(TypedDict):
    at: str
    ok: bool
    problems: list[str]
    method: NotRequired[str]
    fingerprint: NotRequired[str]


class LastError(TypedDict):
    at: str
    job: str
    message: str


class ResolvedError(LastError):
    resolved_at: str


class StatusReport(TypedDict):
    daemon: DaemonInfo
    registry: RegistryReport
    backups: BackupsReport
    retention: dict[str, int]
    last_check: LastCheck | None
    last_error: LastError | None
    last_resolved_error: NotRequired[ResolvedError | None]
    remotes: NotRequired[list[dict[str, Any]]]  # app/remotes.py: one per [[remote]]


class HealthResult(TypedDict):
    healthy: bool
    reasons: list[str]


# ---- the other commands -------------------------------------------------------------------


class BackupResult(TypedDict):
    skipped: bool
    reason: NotRequired[str]  # why it was skipped
    backup: NotRequired[BackupJson]


class IgnoredJson(TypedDict):
    name: str
    reason: str


class BackupsResult(TypedDict):
    dir: str
    backups: list[BackupJson]
    ignored: list[IgnoredJson]


class DecisionJson(TypedDict):
    name: str
    keep: bool
    reasons: list[str]


class PruneResult(TypedDict):
    dry_run: bool
    decisions: list[DecisionJson]
    deleted: list[str]


class VerifiedJson(TypedDict):
    name: str
    ok: bool
    problems: list[str]


class VerifyResult(TypedDict):
    results: list[VerifiedJson]
    bad: list[str]


class SkippedJson(TypedDict):
    name: str
    problems: list[str]


class RestoreResult(TypedDict, total=False):
    """restore and recover: what was set aside, saved and brought back."""

    registry: str
    method: str
    skipped: list[SkippedJson]  # recover: backups passed over, and why
    restored: str | None
    safety_backup: str | None
    corrupted_saved_as: str | None
    salvaged: str | None
    resumed: str | None
    migrated: list[MigrationRunJson]


class MigrateResult(TypedDict):
    dry_run: NotRequired[bool]
    backup_only: NotRequired[bool]
    pending: NotRequired[list[PendingSqlJson]]
    applied: list[MigrationRunJson]
    backup: NotRequired[str | BackupJson | None]  # a name; the BackupJson with --backup-only
    recorded_present: NotRequired[list[str]]
    schema_version: str | None


class RollbackResult(TypedDict):
    reverted: list[MigrationRunJson]
    backup: str | None
    schema_version: str | None


class CheckResult(TypedDict):
    ok: bool
    problems: list[str]
    path: str
    schema_drift: list[DriftJson]
    unreadable_by_7zarch_go: list[DriftJson]


class RepairResult(TypedDict):
    dry_run: bool
    drift: list[DriftJson]
    unreadable_by_7zarch_go: list[DriftJson]
    reapply: list[str]
    refused: NotRequired[list[str]]
    backup: NotRequired[str | None]


class PingResult(TypedDict):
    pong: bool
    pid: int
    version: str
    # What the daemon works on, so a client that resolved another registry can refuse
    # (an older daemon leaves them out: then the client cannot tell, and does not check).
    registry: NotRequired[str]
    backup_dir: NotRequired[str]
    config: NotRequired[str | None]


class MessageResult(TypedDict, total=False):
    """pause, resume, reload, stop: a sentence for people and a field for scripts."""

    message: str
    paused: bool
    stopping: bool
    reloaded: bool
    config: str | None
