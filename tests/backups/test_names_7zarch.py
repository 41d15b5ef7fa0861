"""Backup names 7zarch-go can never produce, old-style names that keep working, and a file
7zarch-go wrote over one of our old-style names (O_TRUNC) listed as 7zarch-go's."""

from __future__ import annotations

import dataclasses
import os
import shutil
from datetime import datetime
from pathlib import Path

from tests.conftest import tamper
from zarchd.backups import list_backups, prune, take_backup, verify_backup
from zarchd.backups.names import local_tz, parse
from zarchd.backups.replaced import replaced_by_other
from zarchd.backups.restore import restore_backup
from zarchd.backups.storage import LocalDirectory
from zarchd.core.config import RetentionPolicy

from .conftest import FixedClock, make_registry, max_id

NONE_KEPT = RetentionPolicy(
    keep_last=1, keep_hourly=0, keep_daily=0, keep_weekly=0, keep_monthly=0, keep_yearly=0
)


def _as_old_style(info_path: Path) -> Path:
    """Rename one of our backups (and its sidecar) to the name earlier zarchd versions gave it."""
    old = info_path.with_name(info_path.name.replace("-zarchd", ""))
    sidecar = info_path.with_name(info_path.name + ".json")
    text = sidecar.read_text().replace(info_path.name, old.name)
    os.rename(info_path, old)
    sidecar.unlink()
    old.with_name(old.name + ".json").write_text(text)
    return old


def _overwrite_as_7zarch_go(target: Path, source: Path) -> None:
    """What `7zarch-go db backup` does to an existing name: O_CREATE|O_WRONLY|O_TRUNC."""
    fd = os.open(target, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "wb") as fh, open(source, "rb") as src:
        shutil.copyfileobj(src, fh)


def test_new_names_carry_the_marker_and_old_names_still_parse() -> None:
    new = parse("registry", "registry-20260314-120000-zarchd-2.bak")
    assert new is not None and new.marked and new.seq == 2
    assert new.local_time == datetime(2026, 3, 14, 12, 0, 0)
    old = parse("registry", "registry-20260314-120000-1.bak")
    assert old is not None and not old.marked and old.seq == 1
    assert parse("registry", "registry-20260314-120000-zarchd.bak.json") is None


def test_a_same_second_7zarch_go_backup_leaves_ours_alone(
    tmp_path: Path, clock: FixedClock
) -> None:
    reg = make_registry(tmp_path / "registry.db", 50)
    ours = take_backup(reg, tmp_path, now=clock)
    local = clock.now.astimezone(local_tz())
    theirs = tmp_path / f"registry-{local:%Y%m%d-%H%M%S}.bak"
    _overwrite_as_7zarch_go(theirs, reg)
    listed = {b.name: b for b in list_backups(reg, tmp_path)}
    assert listed[ours.name].ours and listed[theirs.name].ours is False
    assert verify_backup(listed[ours.name]).ok


def test_old_style_backups_of_ours_keep_working(tmp_path: Path, clock: FixedClock) -> None:
    reg = make_registry(tmp_path / "registry.db", 40)
    first = _as_old_style(take_backup(reg, tmp_path, now=clock).path)
    clock.advance(hours=1)
    second = _as_old_style(take_backup(reg, tmp_path, now=clock).path)
    listed = {b.name: b for b in list_backups(reg, tmp_path)}
    assert listed[first.name].ours and listed[second.name].ours
    assert verify_backup(listed[first.name]).ok
    restore_backup(reg, tmp_path, second.name, now=clock)
    clock.advance(hours=1)
    prune(reg, tmp_path, NONE_KEPT, now=clock)
    assert not first.exists() and not first.with_name(first.name + ".json").exists()


def test_old_style_name_overwritten_by_7zarch_go_is_listed_as_its_backup(
    tmp_path: Path, clock: FixedClock
) -> None:
    reg = make_registry(tmp_path / "registry.db", 30)
    old = _as_old_style(take_backup(reg, tmp_path, now=clock).path)
    other = make_registry(tmp_path / "other" / "registry.db", 60)
    _overwrite_as_7zarch_go(old, other)
    info = {b.name: b for b in list_backups(reg, tmp_path)}[old.name]
    assert info.ours is False and info.verified is None
    assert verify_backup(info).ok  # a good 7zarch-go backup, not a "BAD" one of ours
    clock.advance(hours=1)
    take_backup(reg, tmp_path, now=clock)
    decisions = {d.name: d for d in prune(reg, tmp_path, NONE_KEPT, now=clock)}
    assert decisions[old.name].keep and old.exists()  # never deleted
    restore_backup(reg, tmp_path, old.name, now=clock)
    assert max_id(reg) == 60  # 7zarch-go's backup is what came back


def test_an_old_style_backup_damaged_in_place_stays_ours_and_bad(
    tmp_path: Path, clock: FixedClock
) -> None:
    reg = make_registry(tmp_path / "registry.db", 30)
    old = _as_old_style(take_backup(reg, tmp_path, now=clock).path)
    st = old.stat()
    tamper(old)  # bit rot: same size, same mtime, content changed
    os.utime(old, ns=(st.st_atime_ns, st.st_mtime_ns))
    info = {b.name: b for b in list_backups(reg, tmp_path)}[old.name]
    assert info.ours and not verify_backup(info, now=clock).ok


def _written_after_its_sidecar(path: Path) -> None:
    sidecar = path.with_name(path.name + ".json").stat()
    os.utime(path, ns=(sidecar.st_atime_ns, sidecar.st_mtime_ns + 1_000_000_000))


def test_a_same_size_overwrite_after_the_sidecar_is_7zarch_gos(
    tmp_path: Path, clock: FixedClock
) -> None:
    """Same size as ours (7zarch-go copied the same registry later): the hash decides, and a
    SQLite file that is not ours any more is listed as 7zarch-go's."""
    reg = make_registry(tmp_path / "registry.db", 30)
    old = _as_old_style(take_backup(reg, tmp_path, now=clock).path)
    replacement = tmp_path / "replacement.db"
    shutil.copyfile(old, replacement)
    tamper(replacement, at=old.stat().st_size - 100, data=b"7zarch-go")  # still a SQLite file
    _overwrite_as_7zarch_go(old, replacement)
    _written_after_its_sidecar(old)
    info = {b.name: b for b in list_backups(reg, tmp_path)}[old.name]
    assert info.ours is False and info.verified is None


def test_a_same_size_non_database_written_after_the_sidecar_stays_ours_and_bad(
    tmp_path: Path, clock: FixedClock
) -> None:
    """Written later with the same size but no longer a SQLite file: not 7zarch-go's backup
    (it writes databases), so it stays ours, and verify calls it bad."""
    reg = make_registry(tmp_path / "registry.db", 30)
    old = _as_old_style(take_backup(reg, tmp_path, now=clock).path)
    tamper(old, at=0, data=b"not a database!!")
    _written_after_its_sidecar(old)
    info = {b.name: b for b in list_backups(reg, tmp_path)}[old.name]
    assert info.ours and not verify_backup(info, now=clock).ok


def test_a_backup_gone_after_the_listing_is_not_called_7zarch_gos(
    tmp_path: Path, clock: FixedClock
) -> None:
    """The file vanished (pruned by hand, disk trouble) between the scan and the look inside:
    no error, and no claim that 7zarch-go wrote it."""
    reg = make_registry(tmp_path / "registry.db", 30)
    old = _as_old_style(take_backup(reg, tmp_path, now=clock).path)
    store = LocalDirectory(tmp_path)
    stored = {s.name: s for s in store.scan("registry")}[old.name]
    assert stored.sidecar is not None
    old.unlink()
    assert not replaced_by_other(store, stored, {**stored.sidecar, "size_bytes": -1})
    later = dataclasses.replace(stored, mtime_ns=(stored.sidecar_mtime_ns or 0) + 1)
    assert not replaced_by_other(store, later, stored.sidecar)
