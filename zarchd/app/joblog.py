"""The daemon log's line for each finished job: outcome, duration and what it did.

Operations calls this for every job it records, so a backup asked for by zarchctl, the schedule,
a change or start-up leaves the same line; the callers log nothing more about the same event
(one event, one line). Some wordings ("backup (...) written:", "integrity check ok",
"migration failed:") are what people and tests already look for in the log.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("zarchd.jobs")


def summary(entry: dict[str, Any]) -> str:
    """One line for one history entry (also what `zarchctl log` shows as its detail)."""
    job = str(entry.get("job"))
    took = f"{float(entry.get('duration_s') or 0):.1f} s"
    reason = entry.get("reason", "manual")
    if "cancelled" in entry:
        return f"{job} ({reason}) cancelled after {took}: {entry['cancelled']}"
    if not entry.get("ok"):
        if job == "migrate":  # the wording the daemon always used for this
            return f"migration failed: {entry.get('error', '')} ({reason}, after {took})"
        if job == "check" and entry.get("damaged"):
            return f"the registry is DAMAGED: {entry.get('error', '')}; run `zarchctl recover`"
        why = entry.get("error") or entry.get("refused") or ""  # a refusal says why too
        return f"{job} ({reason}) failed after {took}: {why}"
    return f"{job} ({reason}) {_done(job, entry)} in {took}"


def _done(job: str, entry: dict[str, Any]) -> str:
    if job == "backup":
        return f"written: {entry.get('name')}, {_size(entry.get('size_bytes'))}"
    if job == "prune":
        deleted = entry.get("deleted") or []
        if not deleted:
            return "done: nothing to delete"
        return f"done: deleted {', '.join(deleted)}, freed {_size(entry.get('freed_bytes'))}"
    if job == "check":
        return "done: integrity check ok"
    if job == "migrate":
        applied = entry.get("timings") or [{"id": i} for i in entry.get("applied") or []]
        if not applied:
            return "done: nothing to apply"
        parts = [
            f"{a['id']}" + (f" {a['duration_s']:.2f} s" if "duration_s" in a else "")
            for a in applied
        ]
        return f"done: applied {', '.join(parts)}; schema now {entry.get('schema_version')}"
    if job == "rollback":
        return f"done: reverted {', '.join(entry.get('reverted') or []) or 'nothing'}"
    if job in ("restore", "recover"):
        return f"done: restored {entry.get('restored') or entry.get('name')}"
    if job == "verify":
        return f"done: {entry.get('verified', 0)} backup(s) verified, all good"
    if job == "repair":
        return f"done: re-applied {', '.join(entry.get('reapplied') or []) or 'nothing'}"
    return "done"


def _size(n: Any) -> str:
    if not isinstance(n, int):
        return "size unknown"
    if n < 1024:
        return f"{n} bytes"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f} {unit}"


def log_end(entry: dict[str, Any]) -> None:
    level = logging.INFO if entry.get("ok") or "cancelled" in entry else logging.ERROR
    log.log(level, "%s", summary(entry))
