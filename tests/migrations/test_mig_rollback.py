"""rollback --to, refusals, and changed migration files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import FIXTURE_0005
from zarchd.core.errors import MigrationError, NotFound
from zarchd.migrations import inspect, load_catalog, migrate, rollback
from zarchd.migrations.ddl import BASELINE_COLUMNS

from .conftest import FIXTURE_IDS, columns, dump, execute, query, recorded, write

TAGS = """-- name: Tags
-- migrate:up
ALTER TABLE archives ADD COLUMN tags TEXT;
CREATE TABLE tag_names (name TEXT PRIMARY KEY);
INSERT INTO tag_names VALUES ('photos'), ('docs');
-- migrate:down
DROP TABLE tag_names;
ALTER TABLE archives DROP COLUMN tags;
"""


def test_rollback_runs_down_parts_newest_first(registry_0005: Path, app_dir: Path) -> None:
    write(app_dir, "0006_tags.sql", TAGS)
    write(
        app_dir,
        "0007_more.sql",
        "-- depends: 0006_tags\n-- migrate:up\n"
        "INSERT INTO tag_names VALUES ('music');\n-- migrate:down\n"
        "DELETE FROM tag_names WHERE name = 'music';\n",
    )
    catalog = load_catalog(app_dir)
    migrate(registry_0005, catalog, timeout=5, app_version="t")
    assert query(registry_0005, "SELECT count(*) FROM tag_names") == [(3,)]

    seen: list[list[str]] = []
    result = rollback(
        registry_0005,
        catalog,
        "0005_search_index",
        timeout=5,
        before_apply=lambda ms: seen.append([m.id for m in ms]),
    )
    assert seen == [["0007_more", "0006_tags"]]
    assert [a["id"] for a in result.applied] == ["0007_more", "0006_tags"]
    assert result.schema_version == "0005_search_index"
    assert "tags" not in columns(registry_0005, "archives")
    assert query(registry_0005, "SELECT name FROM sqlite_master WHERE name = 'tag_names'") == []
    assert recorded(registry_0005) == FIXTURE_IDS
    assert query(registry_0005, "SELECT count(*) FROM zarchd_migrations") == [(0,)]
    status = inspect(registry_0005, catalog)
    assert [m.id for m in status.pending] == ["0006_tags", "0007_more"]
    # ... and forward again.
    migrate(registry_0005, catalog, timeout=5, app_version="t")
    assert query(registry_0005, "SELECT count(*) FROM tag_names") == [(3,)]


def test_refuses_before_anything_runs_without_a_down_part(
    registry_0005: Path, app_dir: Path
) -> None:
    write(app_dir, "0006_tags.sql", TAGS)
    write(
        app_dir,
        "0007_oneway.sql",
        "-- depends: 0006_tags\n-- migrate:up\nUPDATE tag_names SET name = upper(name);\n",
    )
    catalog = load_catalog(app_dir)
    migrate(registry_0005, catalog, timeout=5, app_version="t")
    before = dump(registry_0005)
    calls: list[object] = []
    with pytest.raises(MigrationError) as err:
        rollback(registry_0005, catalog, "0005_search_index", timeout=5, before_apply=calls.append)
    assert "0007_oneway" in err.value.message and "no down migration" in err.value.message
    assert calls == [] and dump(registry_0005) == before  # 0006 was not rolled back either


def test_builtin_0001_cannot_be_rolled_back_past(registry_0005: Path) -> None:
    catalog = load_catalog(None)
    with pytest.raises(NotFound, match="0000_nothing"):
        rollback(registry_0005, catalog, "0000_nothing", timeout=5)
    result = rollback(registry_0005, catalog, "0005_search_index", timeout=5)
    assert result.applied == [] and result.schema_version == "0005_search_index"


def test_not_applied_target_is_not_found(registry_0005: Path, app_dir: Path) -> None:
    write(app_dir, "0006_tags.sql", TAGS)
    with pytest.raises(NotFound, match="0006_tags is not applied"):
        rollback(registry_0005, load_catalog(app_dir), "0006_tags", timeout=5)


def test_builtins_roll_back_to_baseline_and_forward(baseline_registry: Path) -> None:
    catalog = load_catalog(None)
    original = dump(baseline_registry)
    # The upgrade gave NULLs 7zarch-go cannot scan its own '' / FALSE; a rollback keeps those.
    data = query(
        baseline_registry,
        "SELECT id, name, path, size, created, coalesce(checksum, ''),"
        " coalesce(profile, ''), coalesce(uploaded, 0), coalesce(destination, ''),"
        " uploaded_at, coalesce(metadata, '') FROM archives ORDER BY id",
    )
    migrate(baseline_registry, catalog, timeout=30, app_version="t")
    result = rollback(baseline_registry, catalog, "0001_baseline", timeout=30)
    assert [a["id"] for a in result.applied] == FIXTURE_IDS[:0:-1]
    assert columns(baseline_registry, "archives") == list(BASELINE_COLUMNS)
    assert query(baseline_registry, "SELECT * FROM archives ORDER BY id") == data
    assert recorded(baseline_registry) == ["0001_baseline"]
    assert len(original) > 2000  # sanity: the dump holds the rows
    migrate(baseline_registry, catalog, timeout=30, app_version="t")
    assert recorded(baseline_registry) == FIXTURE_IDS


def test_fresh_registry_rolls_back_through_a_rebuild(tmp_path: Path) -> None:
    """Created fresh, uid has an inline UNIQUE that DROP COLUMN refuses: 0002's down rebuilds."""
    path = tmp_path / "fresh.db"
    catalog = load_catalog(None)
    migrate(path, catalog, timeout=5, app_version="t")
    execute(
        path,
        "INSERT INTO archives (uid, name, path, size, created) VALUES "
        "('01J0000000000000000000000A', 'a.7z', '/a.7z', 1, '2025-01-01')",
    )
    rollback(path, catalog, "0001_baseline", timeout=5)
    assert columns(path, "archives") == list(BASELINE_COLUMNS)
    assert query(path, "SELECT name, path FROM archives") == [("a.7z", "/a.7z")]
    indexes = {
        r[0]
        for r in query(
            path,
            "SELECT name FROM sqlite_master WHERE type = 'index' "
            "AND tbl_name = 'archives' AND sql IS NOT NULL",
        )
    }
    assert indexes == {"idx_archives_created", "idx_archives_uploaded", "idx_archives_destination"}
    migrate(path, catalog, timeout=5, app_version="t")
    assert sorted(columns(path, "archives")) == sorted(columns(FIXTURE_0005, "archives"))


def test_changed_file_is_reported_cosmetic_change_is_not(
    registry_0005: Path, app_dir: Path
) -> None:
    path = write(app_dir, "0006_tags.sql", TAGS)
    migrate(registry_0005, load_catalog(app_dir), timeout=5, app_version="t")
    assert inspect(registry_0005, load_catalog(app_dir)).changed == []

    path.write_bytes(("\r\n".join(line + "  " for line in TAGS.splitlines()) + "\r\n\r\n").encode())
    assert inspect(registry_0005, load_catalog(app_dir)).changed == []

    path.write_text(TAGS.replace("'docs'", "'documents'"))
    status = inspect(registry_0005, load_catalog(app_dir))
    assert [c["id"] for c in status.changed] == ["0006_tags"]
    assert "0006_tags.sql" in status.changed[0]["message"]
    assert "changed after it was applied" in status.changed[0]["message"]


def test_unknown_applied_ids_are_listed(registry_0005: Path, app_dir: Path) -> None:
    write(app_dir, "0006_tags.sql", TAGS)
    migrate(registry_0005, load_catalog(app_dir), timeout=5, app_version="t")
    status = inspect(registry_0005, load_catalog(None))  # the file is gone
    assert status.unknown == ["0006_tags"] and status.schema_version == "0006_tags"
    with pytest.raises(MigrationError, match="no migration here defines it"):
        rollback(registry_0005, load_catalog(None), "0005_search_index", timeout=5)
