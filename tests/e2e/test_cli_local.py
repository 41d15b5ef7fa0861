"""zarchctl --local end to end: real processes on copies of the real 7zarch-go registry."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

from tests.conftest import make_baseline_registry
from tests.e2e.harness import NAME, add_archive, clean, ctl, sha


def no_traceback(res: subprocess.CompletedProcess[str]) -> None:
    clean(res)


def test_status_local_adopts_the_real_7zarch_registry(registry_0005: Path) -> None:
    res = ctl(registry_0005, "status", "--local", "--json")
    assert res.returncode == 0, res.stderr
    status = json.loads(res.stdout)
    reg = status["registry"]
    assert reg["exists"] is True and reg["size_bytes"] == registry_0005.stat().st_size
    assert reg["integrity"] == "ok"
    assert reg["schema_version"] == "0005_search_index"
    assert [a["id"] for a in reg["applied"]] == [
        "0001_baseline",
        "0002_identity_and_status",
        "0003_trash_fields",
        "0004_query_system",
        "0005_search_index",
    ]
    assert reg["applied"][0]["applied_at"] == "2025-08-14 00:32:31.533452-05:00"
    assert reg["pending"] == []
    assert status["daemon"]["running"] is False
    assert status["backups"]["count"] == 0 and status["last_error"] is None
    human = ctl(registry_0005, "status", "--local")
    assert "0005_search_index" in human.stdout and "5 applied, 0 pending" in human.stdout


def test_migrate_local_leaves_an_adopted_registry_byte_for_byte(registry_0005: Path) -> None:
    before = sha(registry_0005)
    res = ctl(registry_0005, "migrate", "--local")
    assert res.returncode == 0, res.stderr
    assert "nothing to apply" in res.stdout
    assert sha(registry_0005) == before
    assert not list(registry_0005.parent.glob("*.bak")), "no backup when nothing is pending"


def test_baseline_registry_upgraded_with_backup_first(tmp_path: Path) -> None:
    registry = make_baseline_registry(tmp_path / "old" / "registry.db", rows=3000)
    status = json.loads(ctl(registry, "status", "--local", "--json").stdout)["registry"]
    assert [a["id"] for a in status["applied"]] == ["0001_baseline"]
    assert status["applied"][0]["inferred"] is True
    assert [p["id"] for p in status["pending"]] == [
        "0002_identity_and_status",
        "0003_trash_fields",
        "0004_query_system",
        "0005_search_index",
    ]
    # NULLs 7zarch-go cannot scan become the '' / FALSE it writes itself; nothing else changes.
    before = (
        sqlite3.connect(registry)
        .execute(
            "SELECT id, name, path, size, created, coalesce(checksum, ''), coalesce(profile, ''),"
            " coalesce(uploaded, 0), coalesce(destination, ''), uploaded_at, coalesce(metadata, '')"
            " FROM archives ORDER BY id"
        )
        .fetchall()
    )

    res = ctl(registry, "migrate", "--local", "--json")
    assert res.returncode == 0, res.stderr
    result = json.loads(res.stdout)
    assert [a["id"] for a in result["applied"]][-4:] == [p["id"] for p in status["pending"]]
    backups = [p for p in registry.parent.iterdir() if NAME.match(p.name)]
    assert len(backups) == 1 and result["backup"] == backups[0].name
    assert backups[0].stat().st_mode & 0o777 == 0o600
    # the backup is the registry as it was before migrating
    old = sqlite3.connect(backups[0]).execute("SELECT count(*) FROM archives").fetchone()[0]
    assert old == 3000
    conn = sqlite3.connect(registry)
    after = conn.execute(
        "SELECT id, name, path, size, created, checksum, profile, uploaded, destination,"
        " uploaded_at, metadata FROM archives ORDER BY id"
    ).fetchall()
    assert after == before
    uids = [r[0] for r in conn.execute("SELECT uid FROM archives")]
    assert len(set(uids)) == 3000 and all(len(u) == 26 for u in uids)
    assert {r[0] for r in conn.execute("SELECT DISTINCT status FROM archives")} == {"present"}
    again = json.loads(ctl(registry, "status", "--local", "--json").stdout)["registry"]
    assert again["pending"] == [] and again["schema_version"] == "0005_search_index"


def test_dry_run_prints_sql_and_writes_nothing(tmp_path: Path) -> None:
    registry = make_baseline_registry(tmp_path / "r" / "registry.db", rows=10)
    before = sha(registry)
    res = ctl(registry, "migrate", "--local", "--dry-run")
    assert res.returncode == 0, res.stderr
    for mid in ("0002_identity_and_status", "0005_search_index"):
        assert mid in res.stdout
    assert "ALTER TABLE" in res.stdout and "CREATE TABLE" in res.stdout
    assert sha(registry) == before
    assert sorted(p.name for p in registry.parent.iterdir()) == ["registry.db"]


def test_backup_only_takes_the_backup_and_applies_nothing(tmp_path: Path) -> None:
    registry = make_baseline_registry(tmp_path / "r" / "registry.db", rows=10)
    before = sha(registry)
    res = ctl(registry, "migrate", "--local", "--backup-only", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["applied"] == [] and NAME.match(out["backup"]["name"])
    assert sha(registry) == before
    assert (registry.parent / out["backup"]["name"]).exists()


def test_missing_registry_is_created_with_the_full_schema(tmp_path: Path) -> None:
    registry = tmp_path / "new" / "registry.db"
    res = ctl(registry, "migrate", "--local")
    assert res.returncode == 0, res.stderr
    conn = sqlite3.connect(registry)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"archives", "schema_migrations", "queries", "search_index"} <= tables
    assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == 5


def test_failing_migration_names_itself_the_backup_and_the_restore_command(tmp_path: Path) -> None:
    registry = make_baseline_registry(tmp_path / "r" / "registry.db", rows=10)
    mig = tmp_path / "mig"
    mig.mkdir()
    (mig / "0100_broken.sql").write_text(
        "-- name: Broken\n-- depends: 0005_search_index\n-- migrate:up\n"
        "ALTER TABLE archives ADD COLUMN tags TEXT;\nINSERT INTO no_such_table VALUES (1);\n"
    )
    config = tmp_path / "c.toml"
    config.write_text(f'[migrations]\ndir = "{mig}"\n')
    res = ctl(registry, "migrate", "--local", config=config)
    no_traceback(res)
    assert res.returncode == 1
    assert "0100_broken" in res.stderr and "zarchctl restore registry-" in res.stderr
    conn = sqlite3.connect(registry)
    cols = [r[1] for r in conn.execute("PRAGMA table_info(archives)")]
    assert "tags" not in cols, "the failed migration was rolled back as a whole"
    assert (
        conn.execute("SELECT max(id) FROM schema_migrations").fetchone()[0] == "0005_search_index"
    )


def test_retried_migration_reuses_the_backup_of_an_unchanged_registry(
    registry_0005: Path, tmp_path: Path
) -> None:
    """Regression (issue 9, defect 13): every failed attempt took a fresh, identical backup."""
    mig = tmp_path / "mig"
    mig.mkdir()
    broken = mig / "0100_broken.sql"
    broken.write_text(
        "-- depends: 0005_search_index\n-- migrate:up\n"
        "ALTER TABLE archives ADD COLUMN tags TEXT;\nSELECT no_such_fn();\n"
    )
    config = tmp_path / "c.toml"
    config.write_text(f'[migrations]\ndir = "{mig}"\n')

    def attempt(code: int) -> subprocess.CompletedProcess[str]:
        res = ctl(registry_0005, "migrate", "--local", "--json", config=config)
        no_traceback(res)
        assert res.returncode == code, res.stderr
        return res

    def baks() -> list[str]:
        return sorted(p.name for p in registry_0005.parent.glob("*.bak"))

    attempt(1)
    first = baks()
    assert len(first) == 1
    for _ in range(3):
        res = attempt(1)
        assert f"zarchctl restore {first[0]}" in res.stderr, res.stderr
    assert baks() == first, "the registry did not change: no new backup"
    add_archive(registry_0005, 1)
    attempt(1)
    second = baks()
    assert len(second) == 2, "the registry changed: a new backup before migrating"
    broken.write_text(
        "-- depends: 0005_search_index\n-- migrate:up\nALTER TABLE archives ADD COLUMN tags TEXT;\n"
    )
    done = json.loads(attempt(0).stdout)
    assert done["backup"] == (set(second) - set(first)).pop()
    assert baks() == second


def test_rollback_runs_down_migrations_after_a_backup(tmp_path: Path) -> None:
    registry = tmp_path / "r" / "registry.db"
    assert ctl(registry, "migrate", "--local").returncode == 0
    res = ctl(registry, "rollback", "--local", "--to", "0003_trash_fields", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert [r["id"] for r in out["reverted"]] == ["0005_search_index", "0004_query_system"]
    assert out["schema_version"] == "0003_trash_fields" and NAME.match(out["backup"])
    tables = {
        r[0]
        for r in sqlite3.connect(registry).execute(
            "SELECT name FROM sqlite_master WHERE type='table'"
        )
    }
    assert "queries" not in tables and "search_index" not in tables
    refused = ctl(registry, "rollback", "--local", "--to", "0000_nothing")
    no_traceback(refused)
    assert refused.returncode == 1


def test_without_a_daemon_commands_exit_3_and_say_how_to_start_it(registry_0005: Path) -> None:
    res = ctl(registry_0005, "backup", "--socket", str(registry_0005.parent / "none.sock"))
    no_traceback(res)
    assert res.returncode == 3
    assert "zarchd run" in res.stderr and "--local" in res.stderr
    status = ctl(registry_0005, "status", "--socket", str(registry_0005.parent / "none.sock"))
    assert status.returncode == 0 and "not running" in status.stdout


def test_bad_config_exits_2_listing_every_problem(registry_0005: Path, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[backup]\ninterval = "soon"\nwhat = 1\n')
    res = ctl(registry_0005, "status", "--local", config=config)
    no_traceback(res)
    assert res.returncode == 2
    assert (
        "backup.interval" in res.stderr
        and "backup.what" in res.stderr
        and str(config) in res.stderr
    )


def test_backup_local_and_listing(registry_0005: Path) -> None:
    res = ctl(registry_0005, "backup", "--local", "--json")
    assert res.returncode == 0, res.stderr
    name = json.loads(res.stdout)["backup"]["name"]
    listing = json.loads(ctl(registry_0005, "backups", "--local", "--json").stdout)
    assert [b["name"] for b in listing["backups"]] == [name]
    assert listing["backups"][0]["verified"] is True
    assert listing["backups"][0]["schema_version"] == "0005_search_index"
    assert ctl(registry_0005, "verify", "--local").returncode == 0


def test_restore_refuses_paths_and_needs_yes_without_a_terminal(registry_0005: Path) -> None:
    assert ctl(registry_0005, "backup", "--local").returncode == 0
    forged = ctl(registry_0005, "restore", "--local", "--yes", "../registry.db")
    no_traceback(forged)
    assert forged.returncode == 2 and "registry.db" in forged.stderr
    unconfirmed = ctl(registry_0005, "restore", "--local", "whatever.bak")
    assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr
