"""restore's options as the daemon needs them: a PATH made absolute here (the daemon has
another working directory) and --before as an exact moment (the daemon may have another zone)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import typer

from zarchd.core.clock import iso, utcnow
from zarchd.core.when import parse_moment


def restore_params(
    name: str | None, to: str | None, before: str | None, force: bool
) -> dict[str, Any]:
    """Exit 2 (bad usage) for a missing or doubled choice of backup, or a TIME not understood."""
    if (name is None) == (before is None):
        _usage("name a backup (or `latest`), or give --before TIME; not both")
    if to is not None and not str(to).strip():
        _usage("--to needs a path (it is empty)")
    if force and to is None:
        _usage("--force only goes with --to PATH (restore never overwrites without it)")
    moment = None
    if before is not None:
        try:
            moment = iso(parse_moment(before, utcnow()))
        except ValueError as exc:
            _usage(f"--before {before}: expected {exc}")
    return {
        "name": name,
        "to": str(Path(to).expanduser().absolute()) if to is not None else None,
        "before": moment,
        "force": force,
    }


def _usage(message: str) -> NoReturn:
    print(f"zarchctl: {message}", file=sys.stderr)
    raise typer.Exit(2)
