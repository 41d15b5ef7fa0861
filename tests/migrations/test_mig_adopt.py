"""Adopting 7zarch-go registries: the real fixture, an old baseline registry, a missing one."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import FIXTURE_0005, make_baseline_registry
from zarchd.migrations import inspect, load_catalog, migrate
from zarchd.migrations.ddl import BASELINE_COLUMNS

from .conftest import FIXTURE_IDS, columns, execute, query, recorded, sha256, write

FIXTURE_APPLIED_AT = [
    "2025-08-14 00:32:31.533452-05:00",
    "2025-08-14 00:32:31.534415-05:00",
    "2025-08-14 00:32:31.535104-05:00",
    "2025-08-14 00:32:31.535992-05:00",
    "2025-08-14 00:32:31.537167-05:00",
]
CROCKFORD = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
GO_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?[+-]\d\d:\d\d$")


def schema_shape(path: Path) -> dict[str, object]:
    tables = sorted(
        r[0]
        for r in query(
            path,
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'zarchd_migrations'",
        )
    )
    return {
        "tables": tables,
        "columns": {t: sorted(columns(path, t)) for t in tables},
        "indexes": sorted(
            r[0]
            for r in query(
                path, "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            )
        ),
    }


def test_fixture_is_adopted_as_is(registry_0005: Path) -> None:
    catalog = load_catalog(None)
    status = inspect(registry_0005, catalog)
    assert status.exists and status.pending == [] and status.changed == [] and status.unknown == []
    assert [a.id for a in status.applied] == FIXTURE_IDS
    assert [a.applied_at for a in status.applied] == FIXTURE_APPLIED_AT
    assert not any(a.inferred for a in status.applied)
    assert status.schema_version == "0005_search_index"

    before = sha256(registry_0005)
    calls: list[object] = []
    result = migrate(
        registry_0005, catalog, timeout=5, app_version="1.0", before_apply=calls.append
    )
    assert result.applied == [] and result.schema_version == "0005_search_index"
    assert calls == []  # nothing pending: no backup, no write
    assert sha256(registry_0005) == before == sha256(FIXTURE_0005)


def test_fixture_applied_at_survives_later_migrations(registry_0005: Path, app_dir: Path) -> None:
    write(app_dir, "0006_tags.sql", "-- migrate:up\nALTER TABLE archives ADD COLUMN tags TEXT;\n")
    catalog = load_catalog(app_dir)
    result = migrate(registry_0005, catalog, timeout=5, app_version="1.1")
    assert [a["id"] for a in result.applied] == ["0006_tags"]
    rows = query(registry_0005, "SELECT id, applied_at FROM schema_migrations ORDER BY id")
    assert [r[1] for r in rows[:5]] == FIXTURE_APPLIED_AT
    assert GO_TIME.match(rows[5][1])
    # 7zarch-go's own table keeps exactly its three columns; our extras live apart.
    assert columns(registry_0005, "schema_migrations") == ["id", "name", "applied_at"]
    assert query(registry_0005, "SELECT id, app_version FROM zarchd_migrations") == [
        ("0006_tags", "1.1")
    ]


def test_baseline_registry_is_recognised_and_upgraded(baseline_registry: Path) -> None:
    catalog = load_catalog(None)
    original = query(
        baseline_registry, f"SELECT {', '.join(BASELINE_COLUMNS)} FROM archives ORDER BY id"
    )
    assert len(original) == 2000

    status = inspect(baseline_registry, catalog)
    assert [(a.id, a.applied_at, a.inferred) for a in status.applied] == [
        ("0001_baseline", None, True)
    ]
    assert [m.id for m in status.pending] == FIXTURE_IDS[1:]
    assert status.schema_version == "0001_baseline"

    events: list[dict] = []
    backups: list[list[str]] = []
    result = migrate(
        baseline_registry,
        catalog,
        timeout=30,
        app_version="1.0",
        progress=events.append,
        before_apply=lambda p: backups.append([m.id for m in p]),
    )
    assert backups == [FIXTURE_IDS]  # called once, before the first change, 0001 included
    assert [a["id"] for a in result.applied] == FIXTURE_IDS
    assert "0001_baseline" in result.skipped_present
    assert result.schema_version == "0005_search_index"
    assert recorded(baseline_registry) == FIXTURE_IDS

    after = query(
        baseline_registry, f"SELECT {', '.join(BASELINE_COLUMNS)} FROM archives ORDER BY id"
    )
    # Every row and value survives; only NULLs 7zarch-go cannot scan become what it writes itself.
    go_null_fills = {
        "checksum": "",
        "profile": "",
        "destination": "",
        "metadata": "",
        "uploaded": 0,
    }
    expected = [
        tuple(
            go_null_fills.get(col) if value is None and col in go_null_fills else value
            for col, value in zip(BASELINE_COLUMNS, row, strict=True)
        )
        for row in original
    ]
    assert after == expected
    assert any(None in row for row in original)  # the fixture does have such NULLs
    uids = [r[0] for r in query(baseline_registry, "SELECT uid FROM archives")]
    assert len(set(uids)) == 2000 and all(CROCKFORD.match(u) for u in uids)
    assert query(baseline_registry, "SELECT DISTINCT status, managed FROM archives") == [
        ("present", 0)
    ]
    backfill = [
        e for e in events if e.get("migration") == "0002_identity_and_status" and "done" in e
    ]
    assert backfill[-1] == {
        "stage": "backfill",
        "phase": "end",
        "unit": "rows",
        "of": "0002_identity_and_status",
        "migration": "0002_identity_and_status",
        "done": 2000,
        "total": 2000,
    }
    assert len(backfill) >= 4  # batches, not one lump

    # 7zarch-go would read it as its own: the same tables, columns and index names.
    shape, fixture = schema_shape(baseline_registry), schema_shape(FIXTURE_0005)
    assert shape == fixture
    assert query(baseline_registry, "PRAGMA integrity_check") == [("ok",)]
    status = inspect(baseline_registry, catalog)
    assert status.pending == [] and not any(a.inferred for a in status.applied)


def test_wal_baseline_registry_upgrades(tmp_path: Path) -> None:
    path = make_baseline_registry(tmp_path / "wal" / "registry.db", rows=50, wal=True)
    result = migrate(path, load_catalog(None), timeout=10, app_version="1.0")
    assert result.schema_version == "0005_search_index"
    assert query(path, "SELECT count(DISTINCT uid) FROM archives") == [(50,)]


def test_missing_registry_is_created_with_the_full_schema(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "registry.db"
    catalog = load_catalog(None)
    status = inspect(path, catalog)
    assert not status.exists and [m.id for m in status.pending] == FIXTURE_IDS
    assert not path.exists()  # inspect never creates anything

    calls: list[object] = []
    result = migrate(path, catalog, timeout=5, app_version="1.0", before_apply=calls.append)
    assert calls == []  # nothing to back up
    assert [a["id"] for a in result.applied] == FIXTURE_IDS
    assert path.stat().st_mode & 0o777 == 0o600
    # Same as what 7zarch-go creates: tables, columns in order, index names (autoindexes too).
    for table in ("archives", "schema_migrations", "queries", "search_index"):
        assert columns(path, table) == columns(FIXTURE_0005, table)
    assert schema_shape(path) == schema_shape(FIXTURE_0005)
    autoindexes = (
        "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'"
        " AND tbl_name != 'zarchd_migrations' ORDER BY name"
    )
    assert query(path, autoindexes) == query(FIXTURE_0005, autoindexes)
    assert all(GO_TIME.match(r[0]) for r in query(path, "SELECT applied_at FROM schema_migrations"))


def test_partly_migrated_registry_gets_only_the_rest(registry_0005: Path) -> None:
    # As an older 7zarch-go left it: 0003-0005 not yet there.
    statements = [
        "DROP TABLE search_index",
        "DROP TABLE queries",
        "ALTER TABLE archives DROP COLUMN deleted_at",
        "ALTER TABLE archives DROP COLUMN original_path",
        "DELETE FROM schema_migrations WHERE id > '0002_z'",
    ]
    for sql in statements:
        execute(registry_0005, sql)
    result = migrate(registry_0005, load_catalog(None), timeout=5, app_version="1.0")
    assert [a["id"] for a in result.applied] == FIXTURE_IDS[2:]
    assert result.skipped_present == []
    assert schema_shape(registry_0005) == schema_shape(FIXTURE_0005)
    assert [
        r[0] for r in query(registry_0005, "SELECT applied_at FROM schema_migrations ORDER BY id")
    ][:2] == FIXTURE_APPLIED_AT[:2]


def test_effects_already_present_are_recorded_not_failed(registry_0005: Path) -> None:
    # Records lost, schema kept.
    execute(registry_0005, "DELETE FROM schema_migrations WHERE id > '0001_z'")
    result = migrate(registry_0005, load_catalog(None), timeout=5, app_version="1.0")
    assert [a["id"] for a in result.applied] == FIXTURE_IDS[1:]
    assert result.skipped_present == FIXTURE_IDS[1:]
