"""verify_backup, list_backups with foreign files, and prune on real files."""

from __future__ import annotations

import json
from datetime import UTC, timedelta
from pathlib import Path

from tests.conftest import tamper
from zarchd.backups import (
    BackupInfo,
    latest_backup,
    list_backups,
    prune,
    take_backup,
    verify_backup,
)
from zarchd.core.config import RetentionPolicy

from .conftest import FixedClock, add_row, make_registry


def series(
    reg: Path, backup_dir: Path, clock: FixedClock, count: int, **step: int
) -> list[BackupInfo]:
    """`count` backups of `reg`, the clock advanced by `step` after each."""
    taken = []
    for _ in range(count):
        taken.append(take_backup(reg, backup_dir, now=clock))
        clock.advance(**step)
    return taken


def test_verify_good_and_tampered(tmp_path: Path, clock: FixedClock) -> None:
    reg = make_registry(tmp_path / "registry.db", 500)
    good = take_backup(reg, tmp_path, now=clock)
    clock.advance(minutes=5)
    add_row(reg)  # another content: two files (identical backups would share one)
    bad = take_backup(reg, tmp_path, now=clock)
    tamper(bad.path)
    assert verify_backup(good).ok
    result = verify_backup(bad, now=clock)
    assert not result.ok and result.name == bad.name
    assert any(bad.name in p and "sha256" in p for p in result.problems)
    listed = {b.name: b for b in list_backups(reg, tmp_path)}
    assert listed[bad.name].verified is False and listed[good.name].verified is True
    assert latest_backup(reg, tmp_path).name == bad.name  # newest ours, verified or not


def test_foreign_and_unrelated_files_are_listed_or_ignored_but_never_deleted(
    tmp_path: Path, clock: FixedClock
) -> None:
    reg = make_registry(tmp_path / "registry.db", 50)
    foreign = tmp_path / "registry-20200101-010101.bak"  # as 7zarch-go names its backups
    foreign.write_bytes(reg.read_bytes())
    unrelated = [
        tmp_path / n
        for n in (
            "registry-2020.bak",
            "other-20200101-010101.bak",
            "registry-20201341-010101.bak",
            "notes.txt",
        )
    ]
    for p in unrelated:
        p.write_text("keep me")
    (tmp_path / "registry-20200102-010101.bak").symlink_to(tmp_path / "notes.txt")
    ours = series(reg, tmp_path, clock, 4, days=1)
    listed = list_backups(reg, tmp_path)
    assert [b.name for b in listed] == [foreign.name] + [b.name for b in ours]
    assert listed[0].ours is False and listed[0].verified is None and listed[0].sha256 is None
    policy = RetentionPolicy(1, 0, 0, 0, 0, 0)
    dry = prune(reg, tmp_path, policy, now=clock, dry_run=True, tz=UTC)
    assert all(p.exists() for p in [foreign, *unrelated, *(b.path for b in ours)])
    real = prune(reg, tmp_path, policy, now=clock, tz=UTC)
    assert real == dry  # dry run says exactly what a real run does
    plan = {d.name: d for d in real}
    assert plan[foreign.name].keep and "not made by zarchd" in plan[foreign.name].reasons[0]
    assert plan[ours[-1].name].reasons == ["keep_last #1", "newest verified"]
    assert [d.reasons for d in real if not d.keep] == [["no rule keeps it"]] * 3
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(
        [
            reg.name,
            foreign.name,
            *(p.name for p in unrelated),
            "registry-20200102-010101.bak",
            ours[-1].name,
            ours[-1].name + ".json",
        ]
    )
    assert all(p.read_text() == "keep me" for p in unrelated)


def test_prune_keeps_newest_verified_even_when_newer_ones_failed(
    tmp_path: Path, clock: FixedClock
) -> None:
    reg = make_registry(tmp_path / "registry.db", 50)
    taken = series(reg, tmp_path, clock, 3, hours=1)
    tamper(taken[2].path)
    assert not verify_backup(taken[2]).ok
    decisions = prune(reg, tmp_path, RetentionPolicy(0, 0, 0, 0, 0, 0), now=clock)
    keep = {d.name for d in decisions if d.keep}
    assert keep == {taken[1].name, taken[2].name}
    assert not taken[0].path.exists() and not Path(str(taken[0].path) + ".json").exists()


def test_prune_never_deletes_a_backup_that_failed_verification(
    tmp_path: Path, clock: FixedClock
) -> None:
    reg = make_registry(tmp_path / "registry.db", 50)
    taken = series(reg, tmp_path, clock, 4, hours=1)
    tamper(taken[0].path)  # the oldest fails; three newer ones verify
    assert not verify_backup(taken[0]).ok
    decisions = {
        d.name: d for d in prune(reg, tmp_path, RetentionPolicy(1, 0, 0, 0, 0, 0), now=clock)
    }
    assert decisions[taken[0].name].keep
    assert decisions[taken[0].name].reasons == [
        "failed verification: kept for inspection; delete it by hand"
    ]
    assert taken[0].path.exists() and Path(str(taken[0].path) + ".json").exists()
    assert [p.exists() for p in (b.path for b in taken[1:])] == [False, False, True]


def test_created_at_is_utc_from_metadata(tmp_path: Path, clock: FixedClock) -> None:
    reg = make_registry(tmp_path / "registry.db", 5)
    info = take_backup(reg, tmp_path, now=clock)
    listed = list_backups(reg, tmp_path)[0]
    assert listed.created_at == clock.now and listed.created_at.utcoffset() == timedelta(0)
    meta = json.loads(Path(str(info.path) + ".json").read_text())
    assert listed.sha256 == meta["sha256"] == info.sha256


def test_hand_edited_sidecar_times_make_a_backup_foreign_not_a_crash(
    tmp_path: Path, clock: FixedClock
) -> None:
    reg = make_registry(tmp_path / "registry.db", 5)
    taken = series(reg, tmp_path, clock, 3, hours=1)
    # created_at of the wrong type, then a naive time
    for info, created_at in zip(taken[:2], (5, "2024-01-01T00:00:00"), strict=True):
        sidecar = Path(str(info.path) + ".json")
        sidecar.write_text(
            json.dumps({**json.loads(sidecar.read_text()), "created_at": created_at})
        )
    listed = {b.name: b for b in list_backups(reg, tmp_path)}
    assert [listed[b.name].ours for b in taken] == [False, False, True]
    prune(reg, tmp_path, RetentionPolicy(0, 0, 0, 0, 0, 0), now=clock)
    assert all(b.path.exists() for b in taken)  # not ours any more: never deleted
