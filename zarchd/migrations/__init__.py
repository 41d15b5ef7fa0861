"""The migration engine: the built-in 7zarch-go catalog, application SQL files, and a runner
that applies each migration and its record in one transaction.

    catalog = load_catalog(app_dir)
    inspect(registry, catalog)            # never writes
    migrate(registry, catalog, timeout=30, app_version="1.2.3", before_apply=take_backup)
    rollback(registry, catalog, "0003_trash_fields", timeout=30)
"""

from zarchd.migrations import drift
from zarchd.migrations.model import AppliedMigration, MigrateResult, Migration, SchemaStatus
from zarchd.migrations.planner import load_catalog
from zarchd.migrations.rebuild import rebuild_table
from zarchd.migrations.runner import migrate, rollback
from zarchd.migrations.status import inspect

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
