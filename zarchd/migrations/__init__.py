"""The migration engine: the built-in 7zarch-go catalog, application SQL files, and a runner
that applies each migration and its record in one transaction.

    catalog = load_catalog(app_dir)
    inspect(registry, catalog)            # never writes
    migrate(registry, catalog, timeout=30, app_version="1.2.3", before_apply=take_backup)
    rollback(registry, catalog, "0003_trash_fields", timeout=30)

The names below are imported on first use (PEP 562): listing backups reads a backup's schema
version through `migrations.ledger` and needs none of the runner, planner or drift code
(~8 ms of `zarchctl backups`' start-up, issue 16).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from zarchd.core.lazy import lazy_attributes

if TYPE_CHECKING:
    from zarchd.migrations import drift
    from zarchd.migrations.model import (
        AppliedMigration,
        MigrateResult,
        Migration,
        SchemaStatus,
    )
    from zarchd.migrations.planner import load_catalog
    from zarchd.migrations.rebuild import rebuild_table
    from zarchd.migrations.runner import migrate, rollback
    from zarchd.migrations.status import inspect

# name -> the module that defines it (`drift` is a submodule itself)
_LAZY = {
    "AppliedMigration": "zarchd.migrations.model",
    "MigrateResult": "zarchd.migrations.model",
    "Migration": "zarchd.migrations.model",
    "SchemaStatus": "zarchd.migrations.model",
    "load_catalog": "zarchd.migrations.planner",
    "rebuild_table": "zarchd.migrations.rebuild",
    "migrate": "zarchd.migrations.runner",
    "rollback": "zarchd.migrations.runner",
    "inspect": "zarchd.migrations.status",
}


_lazy = lazy_attributes(__name__, _LAZY, globals())


def __getattr__(name: str) -> Any:
    if name == "drift":
        return importlib.import_module("zarchd.migrations.drift")
    return _lazy(name)


__all__ = [
    "AppliedMigration",
    "MigrateResult",
    "Migration",
    "SchemaStatus",
    "drift",
    "inspect",
    "load_catalog",
    "migrate",
    "rebuild_table",
    "rollback",
]
