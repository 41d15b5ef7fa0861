"""Each remote as `status` and `health` see it: read from the upload queue's file (no network,
so status stays instant), with the age of the newest copy against its allowed age."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from zarchd.core.clock import parse_iso
from zarchd.core.config import Config
from zarchd.remote.book import UploadBook
from zarchd.remote.runner import RemoteRunner

__all__ = ["RemoteRunner", "remote_health", "remotes_report"]


def remotes_report(cfg: Config, now: datetime) -> list[dict[str, Any]]:
    """One entry per [[remote]]: state, newest copy and its age, queue length, last error,
    last deep check (docs/STATUS.md)."""
    if not cfg.remotes:
        return []
    book = UploadBook(cfg.state_dir, cfg.backup_dir, cfg.registry_path.stem)
    queue = book.entries()
    out = []
    for remote in cfg.remotes:
        st = book.status(remote.name)
        newest_at = parse_iso(st.get("newest_at"))
        age = (now - newest_at).total_seconds() if newest_at else None
        limit = cfg.remote_max_age(remote)
        waiting = [e for e in queue if e.remote == remote.name]
        out.append(
            {
                "name": remote.name,
                "target": remote.target,
                "state": st.get("state") or ("pending" if waiting else "unknown"),
                "newest": st.get("newest"),
                "newest_at": st.get("newest_at"),
                "newest_age_s": age,
                "max_age_s": limit,
                "stale": age is None or age > limit,
                "queue": len(waiting),
                "next_try": st.get("next_try"),
                "last_upload": st.get("last_upload"),
                "last_error": st.get("last_error"),
                "last_deep_check": st.get("deep_check"),
            }
        )
    return out


def remote_health(report: list[dict[str, Any]]) -> list[str]:
    """Degraded: a remote whose newest copy is older than allowed (or has none), a failed
    deep check, an error that will not pass by retrying."""
    reasons = []
    for r in report:
        if r["stale"]:
            what = (
                f"newest copy {r['newest']} is older than allowed"
                if r["newest"]
                else "no complete copy yet"
            )
            reasons.append(f"remote {r['name']}: {what} ({r['queue']} queued)")
        deep = r.get("last_deep_check") or {}
        if deep and deep.get("ok") is False:
            name, problem = deep.get("name"), deep.get("problem")
            reasons.append(f"remote {r['name']}: deep check of {name} failed: {problem}")
        if r["state"] == "failed" and r.get("last_error"):
            reasons.append(f"remote {r['name']}: {r['last_error'].get('message')}")
    return reasons
