"""Shell completion values that need no daemon: backup names and migration ids, read cheaply.

Called by the shell on every <TAB>: reads a directory listing, never the registry or the socket,
and completes nothing (rather than printing an error into the command line) when the config is
bad.
"""

from __future__ import annotations

import os
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


def _listing(directory: Path) -> list[str]:
    try:
        return os.listdir(directory)
    except OSError:
        return []


def backup_names(ctx: typer.Context, incomplete: str) -> list[str]:
    """Names of the backups in the backup directory (the same pattern `zarchctl backups` lists)."""
    from zarchd.backups import names

    cfg = _config(ctx)
    if cfg is None:
        return []
    stem = names.stem_of(cfg.registry_path)
    found = [
        entry
        for entry in _listing(cfg.backup_dir)
        if entry.startswith(incomplete) and names.parse(stem, entry) is not None
    ]
    return sorted(found)


def migration_ids(ctx: typer.Context, incomplete: str) -> list[str]:
    """The built-in migrations' ids and those of the application's migrations directory."""
    from zarchd.migrations.builtins import BUILTINS
    from zarchd.migrations.loader import FILE_NAME

    ids = [b.id for b in BUILTINS]
    cfg = _config(ctx)
    if cfg is not None and cfg.migrations.dir is not None:
        ids += [e[: -len(".sql")] for e in _listing(cfg.migrations.dir) if FILE_NAME.match(e)]
    return sorted(i for i in set(ids) if i.startswith(incomplete))
