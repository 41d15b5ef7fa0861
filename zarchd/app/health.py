"""`zarchctl health`: healthy or degraded, with one sentence per reason, for scripts.

Built from the status report (so both say the same thing about the registry), the job history
and the backup listing. Degraded when the registry is damaged, missing or unchecked too long,
the newest verified backup is older than `max_backup_age`, the last job failed, or a backup of
ours failed its verification.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from zarchd import backups
from zarchd.app.operations import Operations
from zarchd.app.remotes import remote_health
from zarchd.app.results import HealthResult, StatusReport
from zarchd.core.clock import parse_iso
from zarchd.core.config import Config
from zarchd.core.errors import BackupError

# A registry whose last integrity answer is older than this many check intervals is "unchecked".
CHECK_GRACE = 2


def max_backup_age(config: Config) -> float:
    """Seconds: `notify.max_backup_age`, else twice the backup interval (Config's one rule)."""
    return config.max_backup_age


def assess(
    report: StatusReport,
    history: list[dict[str, Any]],
    items: list[backups.BackupInfo] | None,
    config: Config,
    now: datetime,
) -> HealthResult:
    reasons = _registry(report, config, now)
    error = report["registry"].get("migrations_error")
    if error:  # pending migrations cannot be known (or applied) until it is fixed
        reasons.append(f"migrations: {error}")
    reasons += _backups(items, report, config, now)
    reasons += _last_job(history)
    reasons += remote_health(report.get("remotes") or [])
    return {"healthy": not reasons, "reasons": reasons}


def _registry(report: StatusReport, config: Config, now: datetime) -> list[str]:
    reg = report["registry"]
    if not reg["exists"]:
        return [f"registry missing: {reg.get('problem') or reg['path']}"]
    problems = reg.get("integrity_problems") or []
    if reg["integrity"] == "damaged":
        first = f": {problems[0]}" if problems else ""
        return [f"registry damaged{first}; run `zarchctl recover`"]
    bound = CHECK_GRACE * config.check.interval
    if reg["integrity"] == "ok" and (reg.get("integrity_age_s") or 0) <= bound:
        return []
    last: dict[str, Any] = dict(report.get("last_check") or {})
    at = parse_iso(last.get("at")) if last else None
    if at is not None and (now - at).total_seconds() <= bound:
        return []  # changed since a recent check: the periodic check comes round soon enough
    why = f" ({problems[0]})" if problems else ""
    when = f"since {last.get('at')}" if at else "ever"
    return [f"registry unchecked {when}{why}; run `zarchctl check`"]


def _backups(
    items: list[backups.BackupInfo] | None, report: StatusReport, config: Config, now: datetime
) -> list[str]:
    if items is None:
        return [f"backups cannot be listed: {report['backups'].get('problem', '')}"]
    ours = [b for b in items if b.ours]
    reasons = [f"backup {b.name} failed its verification" for b in ours if b.verified is False]
    verified = [b for b in ours if b.verified and b.created_at is not None]
    limit = max_backup_age(config)
    if not verified:
        if report["registry"]["exists"]:
            reasons.append("no verified backup yet; run `zarchctl backup`")
        return reasons
    newest = max(verified, key=lambda b: b.created_at or now)
    assert newest.created_at is not None
    age = (now - newest.created_at).total_seconds()
    if age > limit:
        reasons.append(
            f"newest verified backup {newest.name} is {_span(age)} old "
            f"(more than {_span(limit)}); run `zarchctl backup`"
        )
    return reasons


def _last_job(history: list[dict[str, Any]]) -> list[str]:
    # Refusals (the caller's answer) and cancellations (a stop) say nothing about health.
    jobs = [h for h in history if isinstance(h, dict) and "refused" not in h]
    jobs = [h for h in jobs if "cancelled" not in h]
    if not jobs or jobs[-1].get("ok"):
        return []
    last = jobs[-1]
    return [f"last job ({last.get('job')}) failed at {last.get('at')}: {last.get('error', '')}"]


def _span(seconds: float) -> str:
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= length:
            return f"{seconds / length:.1f}{unit}"
    return f"{int(seconds)}s"


def health(ops: Operations, report: StatusReport) -> HealthResult:
    """The daemon's and `--local`'s health: `report` is the status either would show."""
    try:
        items: list[backups.BackupInfo] | None = backups.list_backups(ops.registry, ops.store)
    except BackupError:
        items = None
    history = ops.state.get("history") or []
    return assess(report, history, items, ops.config, ops.now())
