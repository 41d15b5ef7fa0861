"""Integrity in `status` is never stale without saying so (issue 13, deliverable 1)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.app.conftest import make_ops
from tests.backups.conftest import corrupt, make_registry
from tests.inprocess import FixedClock
from zarchd.app import status as status_mod
from zarchd.app.operations import Operations
from zarchd.app.status import build_status
from zarchd.db.fingerprint import fingerprint


@pytest.fixture
def damageable(tmp_path: Path, clock: FixedClock) -> Operations:
    """Operations on a registry large enough that corrupt() hits a b-tree page."""
    registry = make_registry(tmp_path / "reg" / "registry.db", rows=3000)
    return make_ops(tmp_path, clock, registry=registry)


@pytest.fixture
def large(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(status_mod, "QUICK_CHECK_LIMIT", 0)  # every registry counts as large


def _write(ops: Operations) -> None:
    conn = sqlite3.connect(ops.registry)
    conn.execute("CREATE TABLE IF NOT EXISTS zz_note (x TEXT)")
    conn.execute("INSERT INTO zz_note VALUES ('changed')")
    conn.commit()
    conn.close()


@pytest.mark.usefixtures("large")
def test_a_check_shows_its_method_and_age(ops: Operations, clock: FixedClock) -> None:
    ops.check()
    clock.advance(hours=2)
    reg = build_status(ops)["registry"]
    assert reg["integrity"] == "ok" and reg.get("integrity_method") == "integrity_check"
    assert reg.get("integrity_age_s") == 7200.0 and reg.get("integrity_stale") is False


@pytest.mark.usefixtures("large")
def test_a_registry_changed_since_its_check_is_not_shown_ok(ops: Operations) -> None:
    ops.check()
    _write(ops)
    reg = build_status(ops)["registry"]
    assert reg["integrity"] == "unknown" and reg.get("integrity_stale") is True
    assert "not checked since it changed" in (reg.get("integrity_problems") or [""])[0]
    ops.check()  # checked again: ok and fresh
    reg = build_status(ops)["registry"]
    assert reg["integrity"] == "ok" and reg.get("integrity_stale") is False


def test_the_daemons_damage_finding_wins_over_a_quick_check(ops: Operations) -> None:
    # integrity_check finds what quick_check misses: the daemon's answer on this same file wins.
    ops.state.update(
        last_check={
            "at": "2026-03-14T12:00:00Z",
            "ok": False,
            "problems": ["row 3 missing from index"],
            "method": "integrity_check",
            "fingerprint": fingerprint(ops.registry),
        }
    )
    reg = build_status(ops)["registry"]
    assert reg["integrity"] == "damaged"
    assert reg.get("integrity_problems") == ["row 3 missing from index"]


@pytest.mark.usefixtures("large")
def test_after_recover_the_new_state_shows_at_once(damageable: Operations) -> None:
    ops = damageable
    ops.backup()
    corrupt(ops.registry)
    assert ops.check()["ok"] is False
    assert build_status(ops)["registry"]["integrity"] == "damaged"
    ops.recover()
    reg = build_status(ops)["registry"]
    assert reg["integrity"] == "ok" and reg.get("integrity_method") == "quick_check"
