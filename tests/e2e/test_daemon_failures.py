"""A daemon whose start-up migration fails keeps guarding the registry; one stopped (SIGTERM)
during a start-up migration exits cleanly with the registry as it was."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

from tests.e2e.harness import QUIET, Daemon, sha, wait_for

FOREVER = (
    "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 5000000000000)"
    " SELECT count(*) FROM r;\n"
)


def tables(registry: Path) -> set[str]:
    conn = sqlite3.connect(f"file:{registry}?mode=ro", uri=True)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()


def migrations_dir(tmp_path: Path, name: str, sql: str) -> Path:
    d = tmp_path / "app-migrations"
    d.mkdir()
    (d / name).write_text("-- migrate:up\n" + sql)
    return d


def test_failing_auto_migration_is_logged_and_the_daemon_keeps_running(
    registry_0005: Path, tmp_path: Path
) -> None:
    mig = migrations_dir(
        tmp_path, "0006_broken.sql", "CREATE TABLE half (x);\nINSERT INTO nowhere VALUES (1);\n"
    )
    config = QUIET + f'[migrations]\ndir = "{mig}"\nauto = true\n'
    with Daemon(tmp_path, registry_0005, config=config).start() as d:
        wait_for(lambda: "migration failed:" in d.log_text(), what="the failed auto-migration")
        text = d.log_text()
        assert "0006_broken" in text and "no such table: nowhere" in text, text
        assert d.ctl("ping").returncode == 0  # still serving
        status = d.json("status")["registry"]
        assert status["schema_version"] == "0005_search_index"
        assert [p["id"] if isinstance(p, dict) else p for p in status["pending"]] == ["0006_broken"]
        assert "half" not in tables(registry_0005)
        assert d.stop() == 0


def test_sigterm_during_a_start_up_migration_stops_with_the_registry_unchanged(
    registry_0005: Path, tmp_path: Path
) -> None:
    mig = migrations_dir(tmp_path, "0006_forever.sql", "CREATE TABLE forever (x);\n" + FOREVER)
    # The daemon lets a running migration reach its time limit after SIGTERM (it is interrupted
    # and rolled back there), so the limit is this test's wait: short, yet longer than the few
    # milliseconds from the safety backup to the signal, or the daemon would go on to "ready".
    config = QUIET + f'[migrations]\ndir = "{mig}"\nauto = true\ntimeout = "2s"\n'
    before = sha(registry_0005)
    d = Daemon(tmp_path, registry_0005, config=config)
    with d.start(wait=False):
        wait_for(lambda: "applying 1 pending migration(s)" in d.log_text(), timeout=20)
        # The safety backup is taken before the step starts: wait until the step runs.
        wait_for(lambda: list(registry_0005.parent.glob("*-zarchd.bak")), what="safety backup")
        d.signal(signal.SIGTERM)
        assert d.stop(timeout=60) == 0, d.log_text()
    text = d.log_text()
    assert "zarchd ready" not in text, "it must not carry on starting after SIGTERM"
    assert "forever" not in tables(registry_0005)
    assert sha(registry_0005) == before
