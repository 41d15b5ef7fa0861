"""The status report in-process: every state the registry and the backup dir can be in."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from tests.app.conftest import make_ops
from tests.backups.conftest import corrupt, make_registry
from tests.inprocess import FixedClock
from zarchd.app import status as status_mod
from zarchd.app.operations import Operations
from zarchd.app.status import build_status
from zarchd.db.lock import WriterLock


def test_a_sound_registry_with_a_backup(ops: Operations) -> None:
    taken = ops.backup()["backup"]
    report = build_status(ops, {"running": True, "pid": 1}, "2026-03-14T13:00:00Z")
    assert report["daemon"] == {"running": True, "pid": 1}
    reg = report["registry"]
    assert reg["exists"] is True and reg["integrity"] == "ok"
    assert reg["integrity_checked_at"] == "now (quick_check)"
    assert reg["schema_version"] == "0005_search_index" and reg["pending"] == []
    assert report["backups"]["latest"]["name"] == taken["name"]
    assert report["backups"]["count"] == report["backups"]["ours"] == 1
    assert report["backups"]["next_run"] == "2026-03-14T13:00:00Z"
    assert report["retention"]["keep_last"] == ops.config.retention.keep_last
    assert report["last_error"] is None


def test_without_a_daemon_and_without_a_registry(tmp_path: Path, clock: FixedClock) -> None:
    ops = make_ops(tmp_path, clock, registry=tmp_path / "none" / "registry.db")
    report = build_status(ops)
    assert report["daemon"] == {"running": False}
    reg = report["registry"]
    assert reg["exists"] is False and reg["integrity"] == "missing" and reg["problem"] is None
    assert report["backups"]["latest"] is None


def test_a_missing_registry_that_held_data_is_a_problem(ops: Operations) -> None:
    ops.backup()
    ops.registry.unlink()
    reg = build_status(ops)["registry"]
    assert "zarchctl recover" in reg["problem"]


def test_an_emptied_registry_is_damaged(ops: Operations) -> None:
    ops.backup()
    ops.registry.write_bytes(b"")
    reg = build_status(ops)["registry"]
    assert reg["integrity"] == "damaged" and reg["integrity_checked_at"] == "now (empty file)"


def test_a_damaged_registry(tmp_path: Path, clock: FixedClock) -> None:
    registry = make_registry(tmp_path / "reg" / "registry.db", rows=3000)
    ops = make_ops(tmp_path, clock, registry=registry)
    corrupt(registry)
    reg = build_status(ops)["registry"]
    assert reg["integrity"] == "damaged" and reg["integrity_problems"]


def test_a_registry_that_is_not_a_database(tmp_path: Path, clock: FixedClock) -> None:
    registry = tmp_path / "reg" / "registry.db"
    registry.parent.mkdir()
    registry.write_bytes(b"not a database" * 1000)
    reg = build_status(make_ops(tmp_path, clock, registry=registry))["registry"]
    assert reg["integrity"] in ("damaged", "unknown") and reg["migrations_error"]


def test_a_locked_registry_is_unknown_not_damaged(ops: Operations) -> None:
    conn = sqlite3.connect(ops.registry, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        reg = build_status(ops)["registry"]
        took = time.monotonic() - started
    finally:
        conn.execute("ROLLBACK")
        conn.close()
    assert reg["integrity"] == "unknown" and reg["integrity_checked_at"] is None
    assert "locked" in reg.get("migrations_error", ""), reg
    # Short lock waits (1 s quick_check, 0.5 s journal mode, 1 s migrations; about 2.5 s in
    # all), not the 5 s default: the migrations read alone used to wait 5 s (6.5 s in all).
    assert took < 5.0, took


def test_a_large_registry_reports_the_last_periodic_check(
    ops: Operations, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(status_mod, "QUICK_CHECK_LIMIT", 0)  # every registry counts as large
    assert build_status(ops)["registry"]["integrity"] == "unknown"  # never checked
    ops.check()
    reg = build_status(ops)["registry"]
    assert reg["integrity"] == "ok" and reg["integrity_checked_at"] is not None
    ops.state.update(last_check={"at": "2026-03-14T12:00:00Z", "ok": False, "problems": ["bad"]})
    reg = build_status(ops)["registry"]
    assert reg["integrity"] == "damaged" and reg["integrity_problems"] == ["bad"]


def test_an_unreadable_backup_dir_is_a_problem_not_a_failure(ops: Operations) -> None:
    ops.backup_dir.write_text("a file where the backups should be")
    report = build_status(ops)["backups"]
    assert report["count"] == 0 and report["problem"]


def test_status_answers_while_a_writer_lock_is_held(ops: Operations) -> None:
    with WriterLock(ops.registry, role="test"):
        assert build_status(ops)["registry"]["integrity"] == "ok"
