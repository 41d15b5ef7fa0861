"""Command name -> handler: the one path both transports (daemon socket, `--local`) go through."""

from __future__ import annotations

import inspect
from typing import Any

from zarchd.app.commands import COMMANDS, Command
from zarchd.core.errors import UsageError
from zarchd.core.progress import Progress


def command_entry(command: str) -> Command:
    entry = COMMANDS.get(command)
    if entry is None:
        raise UsageError(f"unknown command {command!r}")
    return entry


def dispatch(target: object, command: str, params: dict[str, Any], progress: Progress) -> Any:
    """Call the command's handler on `target` (Operations or the Daemon), params as keywords."""
    entry = command_entry(command)
    handler = getattr(target, entry.handler)
    if "progress" in inspect.signature(handler).parameters:
        return handler(**params, progress=progress)
    return handler(**params)


def run_local(ops: object, command: str, params: dict[str, Any], progress: Progress) -> Any:
    """Run a command in this process on Operations (`--local`, or status without a daemon)."""
    entry = command_entry(command)
    if not entry.local:
        raise UsageError(f"`{command}` talks to the daemon; it has no --local form")
    return dispatch(ops, command, params, progress)
