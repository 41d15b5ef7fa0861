"""Method name -> operation: the one table both transports (daemon socket, `--local`) go through."""

from __future__ import annotations

from typing import Any

from .errors import UsageError
from .operations import Operations
from .progress import Progress
from .status import build_status

# Methods that change the registry or the backup dir; `--local` takes the writer lock for them.
WRITING = frozenset({"backup", "prune", "restore", "recover", "migrate", "rollback"})
# Methods that only the daemon can answer.
DAEMON_ONLY = frozenset({"ping", "pause", "resume", "reload", "stop"})


def needs_writer_lock(method: str, params: dict[str, Any]) -> bool:
    if method not in WRITING:
        return False
    return not params.get("dry_run", False)


def call_verb(ops: Operations, method: str, params: dict[str, Any], progress: Progress) -> Any:
    """Run one registry verb. Daemon-only methods are the daemon's business, not this table's."""
    if method == "status":
        return build_status(ops)
    if method == "backup":
        return ops.backup(progress=progress, reason="manual")
    if method == "backups":
        return ops.backups()
    if method == "prune":
        return ops.prune(dry_run=bool(params.get("dry_run")), progress=progress)
    if method == "verify":
        return ops.verify(params.get("name"), progress=progress)
    if method == "restore":
        return ops.restore(str(params["name"]), progress=progress)
    if method == "recover":
        return ops.recover(progress=progress)
    if method == "migrate":
        return ops.migrate(dry_run=bool(params.get("dry_run")),
                           backup_only=bool(params.get("backup_only")), progress=progress)
    if method == "rollback":
        return ops.rollback(str(params["to"]), progress=progress)
    if method == "check":
        return ops.check()
    if method in DAEMON_ONLY:
        raise UsageError(f"`{method}` talks to the daemon; it has no --local form")
    raise UsageError(f"unknown command {method!r}")


def failed(method: str, result: Any) -> bool:
    """Results that carry a failure the exit code must show (bad backups, a damaged registry)."""
    if not isinstance(result, dict):
        return False
    if method == "verify":
        return bool(result.get("bad"))
    if method == "check":
        return not result.get("ok", True)
    return False
