"""`health`: healthy, or degraded with one reason per problem (issue 13, deliverable 5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.conftest import make_ops
from tests.backups.conftest import corrupt, make_registry
from tests.inprocess import FixedClock
from zarchd.app.health import max_backup_age
from zarchd.app.operations import Operations
from zarchd.core.errors import IntegrityFailure


def test_healthy_after_a_backup(ops: Operations) -> None:
    ops.backup()
    assert ops.health() == {"healthy": True, "reasons": []}


def test_no_backup_and_an_old_backup_are_degraded(ops: Operations, clock: FixedClock) -> None:
    assert ops.health()["reasons"] == ["no verified backup yet; run `zarchctl backup`"]
    ops.backup()
    assert max_backup_age(ops.config) == 7200.0  # twice backup.interval (1h)
    clock.advance(hours=2, minutes=1)
    (reason,) = ops.health()["reasons"]
    assert "newest verified backup" in reason and "more than 2.0h" in reason


def test_a_damaged_registry_and_a_failed_job(tmp_path: Path, clock: FixedClock) -> None:
    ops = make_ops(tmp_path, clock, registry=make_registry(tmp_path / "r" / "registry.db", 3000))
    ops.backup()
    corrupt(ops.registry)
    with pytest.raises(IntegrityFailure):
        ops.backup()
    reasons = ops.health()["reasons"]
    assert reasons[0].startswith("registry damaged") and "recover" in reasons[0]
    assert reasons[-1].startswith("last job (backup) failed")


def test_a_refused_request_is_not_a_failed_job(ops: Operations) -> None:
    ops.backup()
    with pytest.raises(Exception, match="nothing to recover"):
        ops.recover()
    assert ops.health()["healthy"] is True


def test_a_backup_that_failed_verification(ops: Operations, clock: FixedClock) -> None:
    name = ops.backup()["backup"]["name"]
    path = ops.backup_dir / name
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    clock.advance(minutes=1)
    ops.verify()
    assert f"backup {name} failed its verification" in ops.health()["reasons"]


def test_a_missing_registry(tmp_path: Path, clock: FixedClock) -> None:
    ops = make_ops(tmp_path, clock, registry=tmp_path / "none" / "registry.db")
    assert ops.health()["reasons"][0].startswith("registry missing")


def test_unchecked_too_long(
    ops: Operations, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zarchd.app import status as status_mod

    monkeypatch.setattr(status_mod, "QUICK_CHECK_LIMIT", 0)  # large: no quick_check per status
    ops.backup()
    ops.check()
    clock.advance(days=2, seconds=1)  # check.interval 24h: two intervals without a check
    ops.backup()  # (a fresh backup: only the check is late)
    reasons = ops.health()["reasons"]
    assert len(reasons) == 1 and reasons[0].startswith("registry unchecked since")
