"""Shell completion callbacks: the config named on the command line, then app/completion.py.

Called by the shell on every <TAB>: completes nothing (rather than printing an error into the
command line) when the config is bad.
"""

from __future__ import annotations

from pathlib import Path

import typer

from zarchd.core.config import Config, load_config
from zarchd.core.errors import ZarchError


def _config(ctx: typer.Context) -> Config | None:
    explicit = ctx.params.get("config")
    try:
        return load_config(Path(explicit) if explicit else None)
    except (ZarchError, OSError, ValueError):
        return None


def backup_names(ctx: typer.Context, incomplete: str) -> list[str]:
    from zarchd.app import completion  # imported on <TAB> only

    cfg = _config(ctx)
    return [] if cfg is None else completion.backup_names(cfg, incomplete)


def migration_ids(ctx: typer.Context, incomplete: str) -> list[str]:
    from zarchd.app import completion

    cfg = _config(ctx)
    return [] if cfg is None else completion.migration_ids(cfg, incomplete)
