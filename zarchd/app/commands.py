"""Facts about method names that the client needs without importing the registry code."""

from __future__ import annotations

from typing import Any

# Methods that change the registry or the backup dir (verify records its results beside each
# backup); `--local` takes the writer lock for them.
WRITING = frozenset(
    {"backup", "prune", "verify", "restore", "recover", "migrate", "rollback", "repair"}
)
# Methods that only the daemon can answer.
DAEMON_ONLY = frozenset({"ping", "pause", "resume", "reload", "stop"})
# Methods that answer at once; the rest may work for minutes (sending progress as they go).
QUICK = frozenset({"ping", "status", "backups", "pause", "resume", "reload", "stop"})
# How long zarchctl waits for the next line from the daemon before calling it hung.
PING_TIMEOUT_S = 5.0
QUICK_TIMEOUT_S = 30.0  # status may wait for a registry another process keeps locked
# While a request works the daemon sends a progress line this often, so zarchctl can tell a long
# operation (or one queued behind the write lock) from a hung daemon; keep it well below the
# timeout.
KEEPALIVE_S = 20.0
LONG_TIMEOUT_S = 120.0


def answer_timeout(method: str) -> float:
    if method == "ping":
        return PING_TIMEOUT_S
    return QUICK_TIMEOUT_S if method in QUICK else LONG_TIMEOUT_S


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
        return not result.get("ok", True) or bool(result.get("schema_drift"))
    return False
