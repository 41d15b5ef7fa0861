"""Failing, slow, killed and concurrent migrations never leave a half-applied registry."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import make_baseline_registry
from zarchd.core.errors import MigrationError, MigrationTimeout, RegistryError
from zarchd.migrations import inspect, load_catalog, migrate
from zarchd.migrations.builtins import BY_ID
from zarchd.migrations.context import DeadlinePassed, StepContext

from .conftest import FIXTURE_IDS, columns, dump, query, recorded, write

ROOT = Path(__file__).resolve().parents[2]
SLOW_CTE = (
    "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 5000000000)"
    " SELECT count(*) FROM r;\n"
)


def test_failing_migration_is_rolled_back_and_named(registry_0005: Path, app_dir: Path) -> None:
    write(app_dir, "0006_good.sql", "-- migrate:up\nCREATE TABLE good (x);\n")
    write(
        app_dir,
        "0007_bad.sql",
        "-- depends: 0006_good\n-- migrate:up\n"
        "CREATE TABLE tags (id INTEGER PRIMARY KEY, label TEXT);\n"
        "INSERT INTO tags (label) VALUES ('a');\n"
        "ALTER TABLE archives ADD COLUMN tag_id INTEGER;\n"
        "INSERT INTO no_such_table VALUES (1);\n",
    )
    catalog = load_catalog(app_dir)
    with pytest.raises(MigrationError) as err:
        migrate(registry_0005, catalog, timeout=5, app_version="t")
    message = err.value.message
    assert "0007_bad" in message and "no such table: no_such_table" in message
    assert "stays at 0006_good" in message
    assert not isinstance(err.value, MigrationTimeout)
    # 0006 committed on its own; nothing of 0007 is left.
    assert recorded(registry_0005) == [*FIXTURE_IDS, "0006_good"]
    assert "tag_id" not in columns(registry_0005, "archives")
    assert query(registry_0005, "SELECT name FROM sqlite_master WHERE name = 'tags'") == []
    assert query(registry_0005, "PRAGMA integrity_check") == [("ok",)]
    assert inspect(registry_0005, catalog).schema_version == "0006_good"


def test_first_failure_leaves_no_zarchd_table(registry_0005: Path, app_dir: Path) -> None:
    before = dump(registry_0005)
    write(app_dir, "0006_bad.sql", "-- migrate:up\nCREATE TABLE t (x);\nSELECT no_such_fn();\n")
    with pytest.raises(MigrationError, match=r"0006_bad.*no such function"):
        migrate(registry_0005, load_catalog(app_dir), timeout=5, app_version="t")
    assert dump(registry_0005) == before


def test_timeout_interrupts_and_rolls_back(registry_0005: Path, app_dir: Path) -> None:
    before = dump(registry_0005)
    write(app_dir, "0006_slow.sql", "-- migrate:up\nCREATE TABLE slow_marker (x);\n" + SLOW_CTE)
    started = time.monotonic()
    with pytest.raises(MigrationTimeout) as err:
        migrate(registry_0005, load_catalog(app_dir), timeout=0.3, app_version="t")
    assert time.monotonic() - started < 5
    assert "0006_slow" in err.value.message and "0.3s" in err.value.message
    assert err.value.code == "migration_timeout"
    assert dump(registry_0005) == before


def test_python_side_loops_check_the_deadline(baseline_registry: Path) -> None:
    conn = sqlite3.connect(baseline_registry, isolation_level=None)
    conn.execute("ALTER TABLE archives ADD COLUMN uid TEXT")
    ctx = StepContext(conn, "0002_identity_and_status", deadline=time.monotonic() - 1)
    with pytest.raises(DeadlinePassed):
        BY_ID["0002_identity_and_status"].up(ctx)
    conn.close()


def test_builtin_timeout_on_a_big_backfill(tmp_path: Path) -> None:
    path = make_baseline_registry(tmp_path / "big" / "registry.db", rows=3000)
    before = dump(path)
    with pytest.raises(MigrationTimeout, match=r"0001_baseline|0002_identity_and_status"):
        migrate(path, load_catalog(None), timeout=0.0001, app_version="t")
    assert dump(path) == before


KILL_SCRIPT = """
import sys
from pathlib import Path
from zarchd.migrations import load_catalog, migrate
migrate(Path(sys.argv[1]), load_catalog(Path(sys.argv[2])), timeout=120, app_version="t")
"""


def test_kill_9_mid_migration_leaves_the_previous_version(tmp_path: Path, app_dir: Path) -> None:
    path = make_baseline_registry(tmp_path / "kill" / "registry.db", rows=2000)
    migrate(path, load_catalog(None), timeout=30, app_version="t")
    paths_before = query(path, "SELECT id, path, uid FROM archives ORDER BY id")
    # A tiny page cache makes SQLite spill changed pages into the database file itself before
    # COMMIT, so the kill lands with a hot journal and a partly rewritten file.
    write(
        app_dir,
        "0006_slow.sql",
        "-- migrate:up\nPRAGMA cache_size = 5;\n"
        "CREATE TABLE slow_effect (x);\nINSERT INTO slow_effect VALUES (1);\n"
        "UPDATE archives SET path = path || '.moved', metadata = hex(randomblob(64));\n" + SLOW_CTE,
    )
    journal = path.with_name(path.name + "-journal")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(path), str(app_dir)], env=env)
    try:
        deadline = time.monotonic() + 20
        while not journal.exists():
            assert proc.poll() is None, "the migrator ended before it could be killed"
            assert time.monotonic() < deadline, "no journal appeared"
            time.sleep(0.01)
        time.sleep(0.3)  # into the slow statement
        assert proc.poll() is None
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    assert journal.exists()
    with pytest.raises(RegistryError, match="hot journal"):
        inspect(path, load_catalog(app_dir))  # read-only: it may not undo the journal itself
    assert query(path, "PRAGMA integrity_check") == [("ok",)]  # a writer rolls it back
    assert not journal.exists()
    status = inspect(path, load_catalog(app_dir))
    assert status.schema_version == "0005_search_index"
    assert [m.id for m in status.pending] == ["0006_slow"]
    assert query(path, "SELECT name FROM sqlite_master WHERE name = 'slow_effect'") == []
    assert query(path, "SELECT id, path, uid FROM archives ORDER BY id") == paths_before
    # What schema_migrations says matches the actual schema.
    for mig_id in recorded(path):
        for table, cols in BY_ID[mig_id].expect_columns.items():
            assert set(cols) <= set(columns(path, table))
    assert query(path, "SELECT id FROM zarchd_migrations ORDER BY id") == [
        (i,) for i in FIXTURE_IDS
    ]


def test_two_migrators_at_once_apply_everything_once(tmp_path: Path) -> None:
    path = make_baseline_registry(tmp_path / "two" / "registry.db", rows=2000)
    catalog = load_catalog(None)
    results: list[object] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        try:
            results.append(migrate(path, catalog, timeout=30, app_version="t", lock_timeout=30))
        except MigrationError as exc:  # pragma: no cover - reported by the assertion below
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(not isinstance(r, Exception) for r in results), results
    done = [a["id"] for r in results for a in r.applied]  # type: ignore[union-attr]
    assert sorted(done) == FIXTURE_IDS  # each migration applied by exactly one of them
    assert recorded(path) == FIXTURE_IDS
    assert query(path, "SELECT count(DISTINCT uid), count(*) FROM archives") == [(2000, 2000)]
    assert query(path, "PRAGMA integrity_check") == [("ok",)]


def test_a_locked_registry_fails_cleanly(baseline_registry: Path) -> None:
    before = dump(baseline_registry)
    holder = sqlite3.connect(baseline_registry, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with pytest.raises(MigrationError, match="database is locked") as err:
            migrate(
                baseline_registry, load_catalog(None), timeout=5, app_version="t", lock_timeout=0.2
            )
        assert time.monotonic() - started < 3
        assert "0001_baseline" in err.value.message
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert dump(baseline_registry) == before


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE sqlite_master SET sql = 'CREATE TABLE archives (id INTEGER' "
        "WHERE name = 'archives'",
        "UPDATE sqlite_master SET sql = 'CREATE INDEX nope ON no_such_table (x)' "
        "WHERE type = 'index' AND sql IS NOT NULL AND rowid = (SELECT max(rowid) FROM sqlite_master"
        " WHERE type = 'index' AND sql IS NOT NULL)",
    ],
)
def test_schema_that_no_longer_parses_fails_validation(
    registry_0005: Path, app_dir: Path, edit: str
) -> None:
    """Regression (issue 9, defect 7): a step that edits sqlite_master is reported applied and
    leaves an unreadable registry. The loader refuses such files; validation must catch it too
    (here the loader is bypassed to reach the step)."""
    import dataclasses

    before = dump(registry_0005)
    write(app_dir, "0006_edit.sql", "-- migrate:up\nSELECT 1;\n")
    catalog = [
        m
        if m.id != "0006_edit"
        else dataclasses.replace(m, up_sql=f"PRAGMA writable_schema=ON;\n{edit};\n")
        for m in load_catalog(app_dir)
    ]
    with pytest.raises(MigrationError, match=r"0006_edit.*schema no longer parses") as err:
        migrate(registry_0005, catalog, timeout=5, app_version="t")
    assert "rolled back" in err.value.message
    assert dump(registry_0005) == before
    assert query(registry_0005, "PRAGMA integrity_check") == [("ok",)]
