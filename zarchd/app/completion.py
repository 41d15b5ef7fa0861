"""What a shell's <TAB> offers, read cheaply from the files: backup names, migration ids.

No registry, no socket, no sidecar: a directory listing and the built-in catalog (cli/complete.py
calls these on every <TAB>).
"""

from __future__ import annotations

import os
from pathlib import Path

from zarchd.backups import names
from zarchd.core.config import Config
from zarchd.migrations.builtins import BUILTINS
from zarchd.migrations.loader import FILE_NAME


def _listing(directory: Path) -> list[str]:
    try:
        return os.listdir(directory)
    except OSError:
        return []


def backup_names(cfg: Config, incomplete: str) -> list[str]:
    """Names in the backup directory of the shape `zarchctl backups` lists, sorted."""
    stem = names.stem_of(cfg.registry_path)
    return sorted(
        entry
        for entry in _listing(cfg.backup_dir)
        if entry.startswith(incomplete) and names.parse(stem, entry) is not None
    )


def migration_ids(cfg: Config, incomplete: str) -> list[str]:
    """The built-in migrations' ids and those of the application's migrations directory."""
    ids = {b.id for b in BUILTINS}
    if cfg.migrations.dir is not None:
        ids |= {e[: -len(".sql")] for e in _listing(cfg.migrations.dir) if FILE_NAME.match(e)}
    return sorted(i for i in ids if i.startswith(incomplete))
