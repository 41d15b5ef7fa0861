"""Schema version by 7zarch-go's rule, recorded-but-unknown ids, schema drift in `status` and
`check`, and `zarchctl repair` (real registries, real zarchctl processes)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.e2e.harness import OUR_NAME
from tests.e2e.test_cli_local import ctl, no_traceback
from zarchd.migrations.ledger import schema_version
from zarchd.migrations.model import AppliedMigration


def _sql(registry: Path, script: str) -> None:
    conn = sqlite3.connect(registry)
    conn.executescript(script)
    conn.close()


def _status(registry: Path) -> dict:
    res = ctl(registry, "status", "--local", "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)["registry"]


def test_version_is_the_most_recently_applied_row_not_the_highest_id(registry_0005: Path) -> None:
    # As 7zarch-go's own tests do: an id sorting after every real one, applied long ago.
    _sql(
        registry_0005,
        "INSERT INTO schema_migrations VALUES ('test_001', 'test', '2020-01-01 00:00:00.5-05:00')",
    )
    reg = _status(registry_0005)
    assert reg["schema_version"] == "0005_search_index" and reg["unknown"] == ["test_001"]
    text = ctl(registry_0005, "status", "--local").stdout
    assert "recorded, unknown  test_001" in text


def test_version_compares_times_with_their_offsets_and_ties_by_recording_order() -> None:
    rows = [
        AppliedMigration("b", "", "2025-08-14 06:00:00-05:00"),  # 11:00 UTC
        AppliedMigration("a", "", "2025-08-14 10:00:00+00:00"),  # earlier, though "later" text
        AppliedMigration("c", "", "2025-08-14 11:00:00Z"),
    ]  # same instant as b
    assert schema_version(rows) == "c"
    assert schema_version(rows[:2]) == "b"
    assert schema_version([AppliedMigration("x", "", "garbage"), rows[1]]) == "a"
    assert schema_version([]) is None


def test_recorded_migration_whose_columns_are_gone_is_drift_and_repair_puts_them_back(
    registry_0005: Path,
) -> None:
    _sql(registry_0005, "ALTER TABLE archives DROP COLUMN deleted_at;DROP INDEX idx_search_term;")
    reg = _status(registry_0005)
    assert reg["schema_drift"] == [
        {
            "migration": "0003_trash_fields",
            "problems": ["table archives lacks column(s) deleted_at"],
        },
        {"migration": "0005_search_index", "problems": ["index idx_search_term is missing"]},
    ]
    checked = ctl(registry_0005, "check", "--local")
    assert checked.returncode == 1 and "SCHEMA DRIFT" in checked.stdout
    assert "0003_trash_fields" in checked.stdout and "deleted_at" in checked.stdout

    before = registry_0005.read_bytes()
    dry = ctl(registry_0005, "repair", "--local", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["reapply"] == ["0003_trash_fields", "0005_search_index"]
    assert registry_0005.read_bytes() == before

    done = ctl(registry_0005, "repair", "--local", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert OUR_NAME.match(result["backup"]) and (registry_0005.parent / result["backup"]).exists()
    assert _status(registry_0005)["schema_drift"] == []
    assert ctl(registry_0005, "check", "--local").returncode == 0
    again = json.loads(ctl(registry_0005, "repair", "--local", "--json").stdout)
    assert again["drift"] == [] and again["backup"] is None  # nothing to do: no backup either


def test_repair_refuses_when_the_archives_table_is_gone(registry_0005: Path) -> None:
    _sql(registry_0005, "DROP TABLE archives")
    before = registry_0005.read_bytes()
    res = ctl(registry_0005, "repair", "--local")
    no_traceback(res)
    assert res.returncode == 1 and "archives table is missing" in res.stderr
    assert "restore" in res.stderr
    assert registry_0005.read_bytes() == before


def test_repair_refuses_and_rolls_back_what_it_cannot_fix(registry_0005: Path) -> None:
    # A baseline column gone: 0001 never adds columns to an existing table, and re-creating
    # user data is not a repair. The other drift (0003) must not be half-applied either.
    _sql(
        registry_0005,
        "ALTER TABLE archives DROP COLUMN metadata;ALTER TABLE archives DROP COLUMN deleted_at;",
    )
    before = registry_0005.read_bytes()
    res = ctl(registry_0005, "repair", "--local")
    no_traceback(res)
    assert res.returncode == 1 and "nothing changed" in res.stderr, res.stderr
    assert "metadata" in res.stderr
    assert registry_0005.read_bytes() == before
    assert "deleted_at" not in [
        r[1] for r in sqlite3.connect(registry_0005).execute("PRAGMA table_info(archives)")
    ]


def test_nulls_7zarch_go_cannot_read_are_a_warning_that_repair_fills(registry_0005: Path) -> None:
    # What an older zarchd's upgrade left: rows with NULL where 7zarch-go scans plain strings.
    _sql(
        registry_0005,
        "INSERT INTO archives (uid, name, path, size, created, checksum) VALUES"
        " ('01J0000000AAAAAAAAAAAAAAAA', 'a.7z', '/a', 1, '2024-01-01 00:00:00',"
        " 'abc');",
    )
    reg = _status(registry_0005)
    assert reg["schema_drift"] == []
    assert [d["migration"] for d in reg["unreadable_by_7zarch_go"]] == [
        "0002_identity_and_status",
        "0003_trash_fields",
    ]
    checked = ctl(registry_0005, "check", "--local")
    assert checked.returncode == 0 and "warning" in checked.stdout  # a warning, not damage
    done = json.loads(ctl(registry_0005, "repair", "--local", "--json").stdout)
    assert done["reapply"] == ["0002_identity_and_status", "0003_trash_fields"] and done["backup"]
    conn = sqlite3.connect(registry_0005)
    assert conn.execute(
        "SELECT checksum, profile, destination, metadata, original_path,"
        " uploaded, managed FROM archives"
    ).fetchall() == [("abc", "", "", "", "", 0, 0)]
    conn.close()
    assert _status(registry_0005)["unreadable_by_7zarch_go"] == []
