"""restore_backup and recover_registry on real files, both journal modes, WAL left behind."""

from __future__ import annotations

import os
import shutil
import sqlite3
from datetime import UTC
from pathlib import Path

import pytest

from tests.conftest import tamper
from zarchd.backups import list_backups, recover_registry, resolve_name, restore_backup, take_backup
from zarchd.core.errors import BackupError, IntegrityFailure, NotFound, RegistryError, UsageError

from .conftest import FixedClock, add_row, corrupt, make_registry, max_id


@pytest.mark.parametrize(
    "name",
    [
        "../registry-20260101-000000.bak",
        "/etc/passwd",
        "",
        "registry-20990101-000000.bak",
        "a\x00b.bak",
        "sub/x.bak",
        "..",
        "registry.db",
        "registry-20260101-000000.bak.json",
    ],
)
def test_forged_names_are_refused(tmp_path: Path, name: str) -> None:
    reg = make_registry(tmp_path / "d" / "registry.db", 10)
    take_backup(reg, reg.parent)
    (tmp_path / "registry-20260101-000000.bak").write_bytes(reg.read_bytes())  # outside the dir
    with pytest.raises((NotFound, UsageError)):
        resolve_name(reg, reg.parent, name)
    with pytest.raises((NotFound, UsageError)):
        restore_backup(reg, reg.parent, name)
    assert max_id(reg) == 10


def test_restore_into_live_registry_with_uncheckpointed_wal(
    tmp_path: Path, wal: bool, clock: FixedClock
) -> None:
    reg = make_registry(tmp_path / "registry.db", 100, wal=wal)
    old = take_backup(reg, tmp_path, now=clock)
    app = sqlite3.connect(reg, isolation_level=None)  # stays open, its WAL uncheckpointed
    app.execute("PRAGMA wal_autocheckpoint=0")
    app.executemany("INSERT INTO items (payload) VALUES (?)", [("new",)] * 40)
    if wal:
        assert Path(str(reg) + "-wal").stat().st_size > 0
    clock.advance(minutes=1)
    result = restore_backup(reg, tmp_path, old.name, now=clock)
    assert result["restored"] == old.name and result["method"] == "backup-api"
    safety = next(b for b in list_backups(reg, tmp_path) if b.name == result["safety_backup"])
    assert max_id(safety.path) == 140  # the state before the restore, WAL commits included
    assert app.execute("SELECT max(id) FROM items").fetchone()[0] == 100  # the app sees it too
    app.close()
    conn = sqlite3.connect(reg)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == ("wal" if wal else "delete")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 100
    conn.close()


def test_restore_refuses_a_tampered_backup(tmp_path: Path, clock: FixedClock) -> None:
    reg = make_registry(tmp_path / "registry.db", 100)
    bad = take_backup(reg, tmp_path, now=clock)
    tamper(bad.path, at=5000, data=b"X")
    before = reg.read_bytes()
    with pytest.raises(IntegrityFailure, match=bad.name):
        restore_backup(reg, tmp_path, bad.name)
    assert reg.read_bytes() == before and len(list_backups(reg, tmp_path)) == 1


def test_restore_when_registry_is_missing_moves_a_stray_wal_away(tmp_path: Path) -> None:
    reg = make_registry(tmp_path / "registry.db", 30, wal=True)
    info = take_backup(reg, tmp_path)
    reg.unlink()
    stray = Path(str(reg) + "-wal")
    stray.write_bytes(b"old wal")
    result = restore_backup(reg, tmp_path, info.name)
    assert result["method"] == "replace" and result["safety_backup"] is None
    assert max_id(reg) == 30 and not stray.exists()
    assert Path(str(stray) + ".stale-0").read_bytes() == b"old wal"


def test_restore_over_a_damaged_registry_sets_it_aside(tmp_path: Path, clock: FixedClock) -> None:
    reg = make_registry(tmp_path / "registry.db", 2000)
    info = take_backup(reg, tmp_path, now=clock)
    corrupt(reg)
    damaged = reg.read_bytes()
    result = restore_backup(reg, tmp_path, info.name, now=clock)
    assert result["safety_backup"] is None and result["corrupted_saved_as"]
    assert Path(result["corrupted_saved_as"]).read_bytes() == damaged
    assert max_id(reg) == 2000


def test_recover_restores_the_newest_backup_that_verifies(
    tmp_path: Path, wal: bool, clock: FixedClock
) -> None:
    reg = make_registry(tmp_path / "registry.db", 2000, wal=wal)
    good = take_backup(reg, tmp_path / "b", now=clock)
    clock.advance(hours=1)
    add_row(reg)  # another content: two files (identical backups would share one)
    newer = take_backup(reg, tmp_path / "b", now=clock)
    tamper(newer.path, at=9000, data=b"\x00\x01")
    app = sqlite3.connect(reg, isolation_level=None)
    app.execute("PRAGMA wal_autocheckpoint=0")
    app.execute("INSERT INTO items (payload) VALUES ('in the wal')")
    corrupt(reg)
    with pytest.raises(UsageError):  # a sound registry is not "recovered" by mistake
        recover_registry(make_registry(tmp_path / "x" / "registry.db", 1), tmp_path / "b")
    result = recover_registry(reg, tmp_path / "b", now=clock)
    app.close()
    assert result["restored"] == good.name
    assert [s["name"] for s in result["skipped"]] == [newer.name]
    aside = Path(result["corrupted_saved_as"])
    assert aside.name.startswith("registry.db.corrupted-")
    if wal:  # the WAL moved with it, under the same new stem, not deleted
        assert Path(str(aside) + "-wal").stat().st_size > 0
    assert max_id(reg) == 2000 and not Path(str(reg) + "-wal").exists()


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="the sqlite3 command is not installed")
def test_recover_salvages_when_no_backup_verifies(tmp_path: Path) -> None:
    reg = make_registry(tmp_path / "registry.db", 3000)
    corrupt(reg)
    damaged = reg.read_bytes()
    result = recover_registry(reg, tmp_path / "none")
    assert result["restored"] is None and result["salvaged"]["tables"]["items"] > 2500
    assert Path(result["corrupted_saved_as"]).read_bytes() == damaged
    assert sqlite3.connect(reg).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # temps gone


def _crashed_wal_registry(directory: Path) -> Path:
    """A damaged WAL-mode registry as a crash leaves it: registry.db plus a -wal with commits."""
    live = make_registry(directory / "live" / "registry.db", 2000, wal=True)
    app = sqlite3.connect(live, isolation_level=None)
    app.execute("PRAGMA wal_autocheckpoint=0")
    app.executemany("INSERT INTO items (payload) VALUES (?)", [("in the wal",)] * 20)
    reg = directory / "registry.db"
    shutil.copyfile(live, reg)
    shutil.copyfile(str(live) + "-wal", str(reg) + "-wal")
    app.close()
    corrupt(reg)
    return reg


def _snapshot(directory: Path) -> dict[str, bytes]:
    """Every file's bytes, except the -shm index SQLite (re)builds when anyone reads the WAL."""
    return {
        p.name: p.read_bytes()
        for p in directory.iterdir()
        if p.is_file() and not p.name.endswith("-shm")
    }


def test_recover_with_nothing_to_use_leaves_the_registry_exactly_where_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: FixedClock
) -> None:
    reg = _crashed_wal_registry(tmp_path)
    bad = take_backup(make_registry(tmp_path / "o" / "registry.db", 5), tmp_path / "b", now=clock)
    tamper(bad.path, at=3000, data=b"\x00\x07")  # the only backup fails verification
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))  # no sqlite3 command: no salvage
    before = _snapshot(tmp_path)
    assert {"registry.db", "registry.db-wal"} <= set(before)
    with pytest.raises(BackupError, match="left where it was, unchanged") as err:
        recover_registry(reg, tmp_path / "b", now=clock)
    assert "no backup verifies" in err.value.message
    assert "install it and run recover again" in err.value.message
    assert _snapshot(tmp_path) == before  # byte-identical, -wal too; no .corrupted-*, no temp
    assert not list(tmp_path.glob("registry.db.corrupted-*"))


def test_recover_without_backups_or_registry_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="there is no registry and there are no backups"):
        recover_registry(tmp_path / "registry.db", tmp_path / "none")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="the sqlite3 command is not installed")
def test_recover_when_salvage_reads_nothing_keeps_the_registry(tmp_path: Path) -> None:
    reg = tmp_path / "registry.db"
    reg.write_bytes(b"this is not a database at all" * 200)
    with pytest.raises(BackupError, match=r"salvage read nothing usable.*left where it was"):
        recover_registry(reg, tmp_path / "none")
    assert reg.read_bytes() == b"this is not a database at all" * 200
    assert sorted(p.name for p in tmp_path.iterdir()) == ["registry.db"]  # no temp, no aside


def test_recover_refuses_a_registry_locked_by_another_process(
    tmp_path: Path, clock: FixedClock
) -> None:
    reg = make_registry(tmp_path / "registry.db", 2000)
    take_backup(reg, tmp_path / "b", now=clock)
    corrupt(reg)
    holder = sqlite3.connect(reg, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    before = _snapshot(tmp_path)
    try:
        with pytest.raises(RegistryError, match=r"locked by another process.*nothing was moved"):
            recover_registry(reg, tmp_path / "b", now=clock, lock_timeout=0.2)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert _snapshot(tmp_path) == before and not list(tmp_path.glob("*.corrupted-*"))
    assert recover_registry(reg, tmp_path / "b", now=clock)["restored"]  # once it is free


def test_set_aside_puts_companions_back_when_the_registry_cannot_move(tmp_path: Path) -> None:
    import subprocess
    from datetime import datetime

    from zarchd.backups.recover import set_aside

    registry = tmp_path / "registry.db"
    registry.write_bytes(b"not really a database")
    wal = tmp_path / "registry.db-wal"
    wal.write_bytes(b"frames")
    subprocess.run(["chattr", "+i", str(registry)], check=True)  # even root cannot rename it
    try:
        with pytest.raises(OSError):
            set_aside(registry, lambda: datetime(2026, 1, 1, tzinfo=UTC))
    finally:
        subprocess.run(["chattr", "-i", str(registry)], check=True)
    assert wal.read_bytes() == b"frames", "the -wal is back beside its registry"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["registry.db", "registry.db-wal"]


def test_restore_into_a_wal_registry_of_another_page_size(
    tmp_path: Path, clock: FixedClock
) -> None:
    """SQLite's backup API cannot change the page size of a WAL database: the registry leaves
    WAL for the copy and goes back to it, so the backup's content and page size come back and
    7zarch-go's journal mode stays."""
    reg = make_registry(tmp_path / "registry.db", 100, wal=True)  # 4096-byte pages
    small = tmp_path / "small.db"
    conn = sqlite3.connect(small, isolation_level=None)
    conn.execute("PRAGMA page_size=1024")
    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
    conn.executemany("INSERT INTO items (payload) VALUES (?)", [("small",)] * 7)
    conn.close()
    foreign = tmp_path / "registry-20260101-000000.bak"  # a 7zarch-go backup, no sidecar
    os.rename(small, foreign)
    result = restore_backup(reg, tmp_path, foreign.name, now=clock)
    assert result["restored"] == foreign.name and result["method"] == "backup-api"
    conn = sqlite3.connect(reg)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA page_size").fetchone()[0] == 1024
    assert conn.execute("SELECT count(*), max(payload) FROM items").fetchone() == (7, "small")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
