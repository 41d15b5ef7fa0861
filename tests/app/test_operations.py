"""Operations in-process on a real registry and real backup files, with a fixed clock."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from tests.app.conftest import make_ops
from tests.backups.conftest import corrupt, make_registry
from tests.conftest import make_baseline_registry
from tests.inprocess import FixedClock
from zarchd.app.operations import Operations
from zarchd.core.errors import LockHeld, RegistryError, UsageError, ZarchError


def _history(ops: Operations) -> list[dict[str, object]]:
    return list(ops.state.get("history", []))


def test_backup_skips_an_unchanged_registry_unless_forced(
    ops: Operations, clock: FixedClock
) -> None:
    first = ops.backup()
    assert first["skipped"] is False and first["backup"]["verified"] is True
    assert ops.state.get("last_backup")["name"] == first["backup"]["name"]
    clock.advance(minutes=5)
    skipped = ops.backup(force=False, reason="scheduled")
    assert skipped == {"skipped": True, "reason": "unchanged since the last backup"}
    forced = ops.backup(reason="manual")
    assert forced["backup"]["name"] != first["backup"]["name"]
    assert [h["job"] for h in _history(ops)] == ["backup", "backup"]


def test_the_last_fingerprint_falls_back_to_the_newest_backup(
    ops: Operations, clock: FixedClock
) -> None:
    ops.backup()
    ops.state.update(last_backup=None)  # state lost: the sidecar still knows
    assert ops.backup(force=False)["skipped"] is True


def test_backups_prune_and_verify(ops: Operations, clock: FixedClock) -> None:
    names = []
    for _ in range(4):
        names.append(ops.backup()["backup"]["name"])
        clock.advance(days=1)
    listed = ops.backups()
    assert [b["name"] for b in listed["backups"]] == names and listed["ignored"] == []
    plan = ops.prune(dry_run=True)
    assert plan["dry_run"] is True and plan["deleted"] == []
    assert {d["name"] for d in plan["decisions"]} == set(names)
    assert all(d["reasons"] for d in plan["decisions"])
    done = ops.prune()
    assert done["deleted"] == [d["name"] for d in done["decisions"] if not d["keep"]]
    events: list[dict[str, object]] = []
    assert ops.verify(progress=events.append)["bad"] == []
    assert [(e["stage"], e["phase"], e["of"]) for e in events][-2:] == [
        ("check", "start", names[-1]),
        ("check", "end", names[-1]),
    ]
    assert ops.verify(names[-1])["results"][0]["ok"] is True
    with pytest.raises(ZarchError):
        ops.verify("registry-19990101-000000.bak")


def test_a_bad_backup_fails_verify_and_becomes_the_last_error(
    ops: Operations, clock: FixedClock
) -> None:
    name = ops.backup()["backup"]["name"]
    path = ops.backup_dir / name
    data = bytearray(path.read_bytes())
    data[5000:5010] = b"\xff" * 10  # the sha256 changes, whatever the page held
    path.write_bytes(bytes(data))
    result = ops.verify()
    assert result["bad"] == [name]
    assert "bad backup" in ops.state.get("last_error")["message"]


def test_check_a_sound_and_a_damaged_registry(tmp_path: Path, clock: FixedClock) -> None:
    ops = make_ops(tmp_path, clock)
    result = ops.check()
    assert result["ok"] is True and result["schema_drift"] == []
    assert ops.state.get("last_check")["ok"] is True
    registry = make_registry(tmp_path / "other" / "registry.db", rows=3000)
    damaged = make_ops(tmp_path / "other", clock, registry=registry)
    corrupt(registry)
    result = damaged.check()
    assert result["ok"] is False and result["problems"]
    assert damaged.state.get("last_error")["job"] == "check"


def test_a_missing_registry_is_a_clear_error(tmp_path: Path, clock: FixedClock) -> None:
    ops = make_ops(tmp_path, clock, registry=tmp_path / "none" / "registry.db")
    for run in (ops.backup, ops.check, ops.repair):
        with pytest.raises(RegistryError, match="does not exist"):
            run()
    assert ops.missing_problem() is None  # nothing was ever there


def test_a_missing_registry_that_held_data_is_not_recreated(
    ops: Operations, clock: FixedClock
) -> None:
    ops.backup()
    ops.registry.unlink()
    problem = ops.missing_problem()
    assert problem is not None and "zarchctl recover" in problem
    with pytest.raises(RegistryError, match="missing"):
        ops.backup()


def test_an_emptied_registry_is_not_backed_up(ops: Operations, clock: FixedClock) -> None:
    ops.backup()
    ops.registry.write_bytes(b"")
    clock.advance(hours=1)
    with pytest.raises(ZarchError, match="no backup taken"):
        ops.backup()
    assert ops.check()["ok"] is False
    assert ops.state.get("last_error")["job"] == "backup" or _history(ops)[-1]["ok"] is False


def test_restore_takes_a_safety_backup_and_recover_refuses_a_sound_registry(
    ops: Operations, clock: FixedClock
) -> None:
    name = ops.backup()["backup"]["name"]
    clock.advance(hours=1)
    result = ops.restore(name)
    assert result["restored"] == name and result["safety_backup"]
    assert result["migrated"] == []
    assert ops.state.get("last_backup") is None
    with pytest.raises(UsageError):
        ops.recover()
    with pytest.raises(ZarchError):
        ops.restore("registry-19990101-000000.bak")
    assert _history(ops)[-1]["ok"] is False


def test_recover_restores_the_newest_good_backup(tmp_path: Path, clock: FixedClock) -> None:
    registry = make_registry(tmp_path / "reg" / "registry.db", rows=3000)
    ops = make_ops(tmp_path, clock, registry=registry)
    name = ops.backup()["backup"]["name"]
    corrupt(registry)
    clock.advance(hours=1)
    result = ops.recover()
    assert result["restored"] == name and result["corrupted_saved_as"]
    assert ops.check()["ok"] is True


def test_migrate_dry_run_backup_only_and_apply_then_rollback(
    tmp_path: Path, clock: FixedClock
) -> None:
    registry = make_baseline_registry(tmp_path / "reg" / "registry.db", rows=50)
    ops = make_ops(tmp_path, clock, registry=registry)
    plan = ops.migrate(dry_run=True)
    assert plan["dry_run"] is True and plan["pending"] and all(p["sql"] for p in plan["pending"])
    assert ops.backups()["backups"] == []  # a dry run writes nothing
    only = ops.migrate(backup_only=True)
    assert only["backup_only"] is True and only["applied"] == []
    clock.advance(minutes=1)
    done = ops.migrate()
    assert done["schema_version"] == "0005_search_index" and done["applied"]
    assert done["backup"] == only["backup"]["name"]  # unchanged since: that backup is reused
    assert ops.state.get("migrated_app_version") == ops.app_version()
    assert ops.migrate()["applied"] == []
    clock.advance(minutes=1)
    back = ops.rollback(done["applied"][-2]["id"])
    assert [r["id"] for r in back["reverted"]] == [done["applied"][-1]["id"]]
    assert back["backup"] is not None


def test_a_failed_migration_names_the_backup_to_go_back_to(
    tmp_path: Path, clock: FixedClock
) -> None:
    app = tmp_path / "app-migrations"
    app.mkdir()
    (app / "0100_broken.sql").write_text(
        "-- name: Broken\n-- depends: 0005_search_index\n-- migrate:up\n"
        "ALTER TABLE no_such_table ADD COLUMN x TEXT;\n-- migrate:down\nSELECT 1;\n"
    )
    ops = make_ops(tmp_path, clock, extra=f'[migrations]\ndir = "{app}"\n')
    with pytest.raises(ZarchError) as info:
        ops.migrate()
    assert "zarchctl restore" in info.value.message
    assert ops.state.get("last_error")["job"] == "migrate"


def test_drift_is_checked_and_repaired_with_a_backup_first(
    tmp_path: Path, clock: FixedClock
) -> None:
    ops = make_ops(tmp_path, clock)
    assert ops.repair(dry_run=True)["reapply"] == []
    conn = sqlite3.connect(ops.registry)
    conn.executescript("ALTER TABLE archives DROP COLUMN deleted_at; DROP INDEX idx_search_term;")
    conn.close()
    assert ops.check()["schema_drift"]
    plan = ops.repair(dry_run=True)
    assert plan["dry_run"] is True and "0003_trash_fields" in plan["reapply"]
    done = ops.repair()
    assert done["reapply"] == plan["reapply"] and done["backup"] is not None
    assert ops.check()["schema_drift"] == []


def test_leftovers_are_removed_and_a_hot_journal_settled(ops: Operations, tmp_path: Path) -> None:
    taken = ops.backup_dir / ops.backup()["backup"]["name"]
    taken.unlink()  # its sidecar stays: as a run stopped mid-way leaves it
    orphan = Path(str(taken) + ".json")
    temp = ops.backup_dir / ".zarchd-registry-abcd1234.bak.tmp"
    temp.write_bytes(b"half")
    ops.remove_leftovers()
    assert not temp.exists() and not orphan.exists()
    ops.settle_hot_journal()  # no journal: nothing to do
    journal = Path(str(ops.registry) + "-journal")
    journal.write_bytes(b"\0" * 512)  # a journal without a valid header: nothing to roll back
    ops.settle_hot_journal()
    assert ops.check()["ok"] is True


def test_the_write_lock_guard_stops_every_job(ops: Operations) -> None:
    def guard() -> None:
        raise LockHeld("lost the lock")

    ops.write_lock.guard = guard
    with pytest.raises(LockHeld):
        ops.backup()
    assert not ops.backup_dir.exists() or os.listdir(ops.backup_dir) == []
