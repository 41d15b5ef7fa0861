"""Method name -> operation: the one table both transports (daemon socket, `--local`) go through."""

from __future__ import annotations

from typing import Any

from zarchd.app.commands import DAEMON_ONLY
from zarchd.app.operations import Operations
from zarchd.app.status import build_status
from zarchd.core.errors import UsageError
from zarchd.core.progress import Progress


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
        return ops.migrate(
            dry_run=bool(params.get("dry_run")),
            backup_only=bool(params.get("backup_only")),
            progress=progress,
        )
    if method == "rollback":
        return ops.rollback(str(params["to"]), progress=progress)
    if method == "check":
        return ops.check()
    if method == "repair":
        return ops.repair(dry_run=bool(params.get("dry_run")), progress=progress)
    if method in DAEMON_ONLY:
        raise UsageError(f"`{method}` talks to the daemon; it has no --local form")
    raise UsageError(f"unknown command {method!r}")
