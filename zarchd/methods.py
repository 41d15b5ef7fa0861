"""Facts about method names that the client needs without importing the registry code."""

from __future__ import annotations

from typing import Any

# Methods that change the registry or the backup dir; `--local` takes the writer lock for them.
WRITING = frozenset({"backup", "prune", "restore", "recover", "migrate", "rollback"})
# Methods that only the daemon can answer.
DAEMON_ONLY = frozenset({"ping", "pause", "resume", "reload", "stop"})


def needs_writer_lock(method: str, params: dict[str, Any]) -> bool:
    if method not in WRITING:
        return False
    return not params.get("dry_run", False)


def failed(method: str, result: Any) -> bool:
    """Results that carry a failure the exit code must show (bad backups, a damaged registry)."""
    if not isinstance(result, dict):
        return False
    if method == "verify":
        return bool(result.get("bad"))
    if method == "check":
        return not result.get("ok", True)
    return False
