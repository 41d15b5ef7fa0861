"""The command table: every zarchctl command, once. Protocol, client, dispatch and render read it.

Cheap to import (the client imports it before anything else): no sqlite, no operations. Handlers
are named here and looked up on their target at dispatch time (zarchd.app.dispatch).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

NoneType = type(None)
ParamType = type | tuple[type, ...]


@dataclass(frozen=True)
class ParamSpec:
    type: ParamType
    required: bool = False


@dataclass(frozen=True)
class Command:
    """One command. `handler` names a method on Operations (runs_in="operations") or on the Daemon
    (runs_in="daemon"); a daemon command with `local` also has that method on Operations, used by
    `--local` and when no daemon runs. The method takes the params as keywords (and `progress`
    when its signature has it)."""

    name: str
    handler: str
    params: Mapping[str, ParamSpec] = field(default_factory=dict)
    writes: bool = False  # changes the registry or the backup dir: writer lock unless dry_run
    quick: bool = False  # answers at once; the rest may work for minutes, sending progress
    runs_in: Literal["operations", "daemon"] = "operations"
    renderer: str = "simple"  # a function in zarchd.cli.render
    failed: Callable[[Any], bool] | None = None  # results the exit code must show as failed
    local: bool = True  # has a --local form
    # a param that, when given, makes a writing command leave the registry alone (no lock);
    # only that command's own param (rollback's `to` is a migration id and takes the lock)
    unlocked_by: str | None = None
    # Runs in zarchctl itself when no daemon answers: True always, "dry_run" only as a dry run.
    # ("to": restore --to, a copy elsewhere that never touches the registry).
    offline: bool | Literal["dry_run", "to"] = False
    # Works on a registry path where no registry is (reports it, or creates it: migrate);
    # every other command says it does not exist and creates nothing (issue 14).
    absent_ok: bool = False

    def needs_writer_lock(self, params: Mapping[str, Any]) -> bool:
        if self.unlocked_by is not None and params.get(self.unlocked_by):
            return False  # restore --to writes a copy elsewhere: the registry's lock is not needed
        return self.writes and not params.get("dry_run", False)

    def works_offline(self, params: Mapping[str, Any]) -> bool:
        """Read-only work needs no daemon: zarchctl does it itself when none runs (issue 14)."""
        if isinstance(self.offline, str):
            return bool(params.get(self.offline))
        return bool(self.offline)


def _verify_failed(result: Any) -> bool:
    return isinstance(result, dict) and bool(result.get("bad"))


def _check_failed(result: Any) -> bool:
    if not isinstance(result, dict):
        return False
    return not result.get("ok", True) or bool(result.get("schema_drift"))


def _unhealthy(result: Any) -> bool:
    return isinstance(result, dict) and not result.get("healthy", False)


def _remote_failed(result: Any) -> bool:
    """A remote that could not be read, or (fleet) a stale prefix."""
    if not isinstance(result, dict):
        return False
    remotes = result.get("remotes") or []
    return any(
        r.get("error") or any(p.get("stale") for p in r.get("prefixes", [])) for r in remotes
    )


_DRY_RUN = {"dry_run": ParamSpec(bool)}


def _daemon(name: str, handler: str) -> Command:
    return Command(name, handler, quick=True, runs_in="daemon", local=False)


_TABLE = (
    Command(
        "status",
        "status",
        quick=True,
        runs_in="daemon",
        renderer="status",
        offline=True,
        absent_ok=True,
    ),
    Command(
        "health",
        "health",
        quick=True,
        runs_in="daemon",
        renderer="health",
        failed=_unhealthy,
        absent_ok=True,
    ),
    Command("ping", "ping", quick=True, runs_in="daemon", renderer="ping", local=False),
    Command("backup", "backup", writes=True, renderer="backup"),
    Command(
        "backups",
        "backups",
        {"last": ParamSpec((int, NoneType))},
        quick=True,
        renderer="backups",
        offline=True,
    ),
    Command("prune", "prune", _DRY_RUN, writes=True, renderer="prune", offline="dry_run"),
    Command(
        "verify",
        "verify",
        {"name": ParamSpec((str, NoneType))},
        writes=True,  # records its results beside each backup
        renderer="verify",
        failed=_verify_failed,
        offline=True,  # under the writer lock, as with --local: it records results
    ),
    Command(
        "restore",
        "restore",
        {
            "name": ParamSpec((str, NoneType)),  # a name, `latest`; or `before`
            "to": ParamSpec((str, NoneType)),  # an absolute path: a checked copy there
            "before": ParamSpec((str, NoneType)),  # ISO 8601 with offset: newest before it
            "force": ParamSpec(bool),  # --to may replace an existing file
            # --from REMOTE (with --host H): a copy fetched from an rclone remote
            "remote": ParamSpec((str, NoneType)),
            "host": ParamSpec((str, NoneType)),
        },
        writes=True,
        renderer="restore",
        offline="to",
        unlocked_by="to",
    ),
    Command("recover", "recover", writes=True, renderer="restore"),
    Command(
        "migrate",
        "migrate",
        {"dry_run": ParamSpec(bool), "backup_only": ParamSpec(bool)},
        writes=True,
        renderer="migrate",
        offline="dry_run",
        absent_ok=True,  # creates a missing registry with the full schema
    ),
    Command("rollback", "rollback", {"to": ParamSpec(str, True)}, writes=True, renderer="rollback"),
    Command("check", "check", renderer="check", failed=_check_failed, offline=True),
    Command("repair", "repair", _DRY_RUN, writes=True, renderer="repair"),
    Command(
        "log",
        "job_log",
        {"n": ParamSpec(int)},
        quick=True,
        renderer="job_log",
        offline=True,
        absent_ok=True,  # reads the state file only
    ),
    # Read the remotes only; zarchctl runs them in its own process (they need only the config).
    Command(
        "remote list",
        "remote_list",
        {"remote": ParamSpec((str, NoneType))},
        renderer="remote_list",
        failed=_remote_failed,
        absent_ok=True,  # a new machine: the remotes are all there is
    ),
    Command(
        "remote fleet",
        "remote_fleet",
        {"remote": ParamSpec((str, NoneType))},
        renderer="remote_fleet",
        failed=_remote_failed,
        absent_ok=True,  # a new machine: the remotes are all there is
    ),
    _daemon("pause", "pause"),
    _daemon("resume", "resume"),
    _daemon("reload", "reload_config"),
    _daemon("stop", "stop"),
)
COMMANDS: Mapping[str, Command] = {c.name: c for c in _TABLE}

# How long zarchctl waits for the next line from the daemon before calling it hung.
PING_TIMEOUT_S = 5.0
QUICK_TIMEOUT_S = 30.0  # status may wait for a registry another process keeps locked
# While a request works the daemon sends a progress line this often, so zarchctl can tell a long
# operation (or one queued behind the write lock) from a hung daemon; keep it well below the
# timeout.
KEEPALIVE_S = 20.0
LONG_TIMEOUT_S = 120.0


def answer_timeout(command: str) -> float:
    if command == "ping":
        return PING_TIMEOUT_S
    entry = COMMANDS.get(command)
    return QUICK_TIMEOUT_S if entry is not None and entry.quick else LONG_TIMEOUT_S


def is_quick(command: str) -> bool:
    entry = COMMANDS.get(command)
    return entry is not None and entry.quick


def failed(command: str, result: Any) -> bool:
    """Results that carry a failure the exit code must show (bad backups, a damaged registry)."""
    entry = COMMANDS.get(command)
    return bool(entry and entry.failed and entry.failed(result))
