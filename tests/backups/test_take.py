"""take_backup: names, metadata, atomic publication, WAL handling, damaged registries, deadlines."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from zarchd.backups import fingerprint, list_backups, take_backup
from zarchd.backups.names import local_tz
from zarchd.backups.take import remove_stale_temps, remove_temp_files
from zarchd.core.errors import BackupError, Cancelled, IntegrityFailure

from .conftest import FixedClock, corrupt, make_registry, max_id


def _bak_files(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name.endswith(".bak"))


def test_backup_is_named_in_local_time_private_and_described(
    tmp_path: Path, clock: FixedClock
) -> None:
    reg = make_registry(tmp_path / "registry.db", 300)
    progress: list[dict] = []
    info = take_backup(reg, tmp_path, now=clock, progress=progress.append)
    local = clock.now.astimezone(local_tz())
    assert info.name == f"registry-{local:%Y%m%d-%H%M%S}-zarchd.bak"
    assert info.path == tmp_path / info.name and info.ours and info.verified is True
    assert stat.S_IMODE(info.path.stat().st_mode) == 0o600
    meta = json.loads((tmp_path / (info.name + ".json")).read_text())
    assert meta["created_at"] == "2026-03-14T12:00:00.000000Z" and meta["reason"] == "manual"
    assert meta["size_bytes"] == info.path.stat().st_size == info.size_bytes
    assert meta["fingerprint"] == fingerprint(reg) and meta["verified_at"]
    assert max_id(info.path) == 300
    starts = [e["stage"] for e in progress if e["phase"] == "start"]
    assert starts == ["copy", "check"]  # the check hashes and fsyncs the copy at the same time
    ends = {e["stage"]: e for e in progress if e["phase"] == "end"}
    assert ends["copy"]["done"] == ends["copy"]["total"] == info.size_bytes
    assert ends["copy"]["unit"] == "bytes"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left
    assert info.to_json()["created_at"] == "2026-03-14T12:00:00Z"


def test_same_second_gets_numbered_names(tmp_path: Path, clock: FixedClock) -> None:
    reg = make_registry(tmp_path / "reg" / "registry.db", 10)
    out = tmp_path / "out"
    names = [take_backup(reg, out, now=clock).name for _ in range(3)]
    assert names[1] == names[0].replace(".bak", "-1.bak")
    assert names[2] == names[0].replace(".bak", "-2.bak")
    assert [b.name for b in list_backups(reg, out)] == names  # oldest -> newest


def test_orphan_sidecar_is_ignored_and_its_name_not_reused(
    tmp_path: Path, clock: FixedClock
) -> None:
    reg = make_registry(tmp_path / "registry.db", 10)
    local = clock.now.astimezone(local_tz())
    orphan = tmp_path / f"registry-{local:%Y%m%d-%H%M%S}-zarchd.bak.json"
    orphan.write_text("{}")
    assert list_backups(reg, tmp_path) == []
    info = take_backup(reg, tmp_path, now=clock)
    assert info.name.endswith("-1.bak") and orphan.read_text() == "{}"


def test_schema_version_of_7zarch_registry(registry_0005: Path, tmp_path: Path) -> None:
    info = take_backup(registry_0005, tmp_path / "b")
    assert info.schema_version == "0005_search_index"
    assert info.name.startswith("registry-")


def test_wal_frames_stay_and_uncheckpointed_commits_are_copied(tmp_path: Path) -> None:
    reg = make_registry(tmp_path / "registry.db", 100, wal=True)
    app = sqlite3.connect(reg, isolation_level=None)  # the application, holding the WAL open
    app.execute("PRAGMA wal_autocheckpoint=0")
    app.executemany("INSERT INTO items (payload) VALUES (?)", [("late",)] * 50)
    wal = Path(str(reg) + "-wal")
    before = wal.stat().st_size
    assert before > 0
    info = take_backup(reg, tmp_path / "b")
    assert wal.stat().st_size == before  # not checkpointed, not truncated
    assert max_id(info.path) == 150
    # the database file itself still lacks the late rows: they are only in the WAL
    conn = sqlite3.connect(f"file:{reg}?mode=ro&immutable=1", uri=True)
    assert conn.execute("SELECT count(*) FROM items").fetchone()[0] < 150
    conn.close()
    app.close()


def test_fingerprint_changes_with_every_commit(tmp_path: Path, wal: bool) -> None:
    reg = make_registry(tmp_path / "registry.db", 10, wal=wal)
    app = sqlite3.connect(reg, isolation_level=None)
    app.execute("PRAGMA wal_autocheckpoint=0")
    first = fingerprint(reg)
    take_backup(reg, tmp_path / "b")
    assert fingerprint(reg) == first  # reading (backing up) is not a change
    seen = {first}
    for i in range(5):
        app.execute("INSERT INTO items (payload) VALUES (?)", (str(i),))
        seen.add(fingerprint(reg))
    assert len(seen) == 6
    app.close()


def test_damaged_registry_is_not_backed_up(tmp_path: Path, clock: FixedClock) -> None:
    reg = make_registry(tmp_path / "registry.db", 2000)
    good = take_backup(reg, tmp_path, now=clock)
    digest = good.path.read_bytes()
    corrupt(reg)
    clock.advance(hours=1)
    with pytest.raises(IntegrityFailure, match=r"registry is damaged.*recover"):
        take_backup(reg, tmp_path, now=clock)
    assert _bak_files(tmp_path) == [good.name] and good.path.read_bytes() == digest
    assert [p.name for p in tmp_path.iterdir() if "tmp" in p.name] == []


def test_deadline_interrupts_the_copy(tmp_path: Path) -> None:
    reg = make_registry(tmp_path / "registry.db", 20000)
    with pytest.raises(Cancelled, match="did not finish within"):
        take_backup(reg, tmp_path, deadline_s=0.0)
    assert [p.name for p in tmp_path.iterdir()] == ["registry.db"]


def test_missing_registry_and_unwritable_dir(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="does not exist"):
        take_backup(tmp_path / "nope.db", tmp_path)
    reg = make_registry(tmp_path / "registry.db", 10)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(BackupError, match="backup directory"):
        take_backup(reg, blocker / "sub")


def test_stale_temps_of_a_killed_run_are_removed_only_when_old(tmp_path: Path) -> None:
    old = tmp_path / ".zarchd-registry-abcd1234.bak.tmp"
    new = tmp_path / ".zarchd-registry-efgh5678.bak.tmp"
    other = tmp_path / ".zarchd-other-abcd1234.bak.tmp"
    restore = tmp_path / ".zarchd-restore-registry-abcd1234.tmp"  # a restore may be running
    for p in (old, new, other, restore):
        p.write_bytes(b"partial")
    for p in (old, other, restore):
        os.utime(p, (1, 1))
    assert remove_stale_temps(tmp_path, "registry", older_than_s=60) == [old]
    assert new.exists() and other.exists() and restore.exists()


def test_remove_temp_files_removes_all_of_ours_whatever_their_age(tmp_path: Path) -> None:
    ours = [
        ".zarchd-registry-abcd1234.bak.tmp",
        ".zarchd-registry-abcd1234.bak.tmp-journal",
        ".zarchd-restore-registry-x_y12345.tmp",
        ".zarchd-salvage-registry-q1w2e3r4.tmp",
        ".zarchd-salvage-registry-q1w2e3r4.tmp-wal",
        ".registry-20260314-120000.bak.json.k9j8h7g6.tmp",
    ]
    theirs = [
        "registry.db",
        "registry.db-wal",
        "registry-20260314-120000.bak",
        ".zarchd-other-abcd1234.bak.tmp",
        ".zarchd-registry2-abcd1234.bak.tmp",
        ".zarchd-registry-abc.bak.tmp",
        ".zarchd-registry-abcd1234.bak.tmp.keep",
        "notes.zarchd-registry-abcd1234.bak.tmp",
        ".zarchd.sock",
    ]
    for name in ours + theirs:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / ".zarchd-registry-zzzz9999.bak.tmp").symlink_to(tmp_path / "registry.db")
    removed = remove_temp_files(tmp_path, "registry")
    assert sorted(p.name for p in removed) == sorted(ours)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [*theirs, ".zarchd-registry-zzzz9999.bak.tmp"]
    )
    assert remove_temp_files(tmp_path / "missing", "registry") == []


def test_cancel_stops_a_running_copy_and_publishes_nothing(
    tmp_path: Path, clock: FixedClock
) -> None:
    reg = make_registry(tmp_path / "registry.db", 100_000)  # ~48 MB: the copy takes a while
    assert reg.stat().st_size > 40_000_000
    out = tmp_path / "b"
    cancel = threading.Event()
    seen: list[tuple[str, str]] = []

    def progress(event: dict) -> None:
        seen.append((event["stage"], event["phase"]))
        if seen[-1] == ("copy", "start"):  # the copy is about to run: stop it from another thread
            threading.Thread(target=cancel.set).start()

    with pytest.raises(
        Cancelled, match="backup cancelled: zarchd is stopping; nothing was published"
    ):
        take_backup(reg, out, now=clock, progress=progress, cancel=cancel)
    assert cancel.is_set() and ("copy", "start") in seen and ("copy", "end") not in seen
    assert list(out.iterdir()) == []  # no temp file, no journal, no backup, no sidecar
    assert list_backups(reg, out) == []
    with pytest.raises(Cancelled, match="cancelled"):  # already set: nothing starts
        take_backup(reg, out, now=clock, cancel=cancel)
    assert list(out.iterdir()) == []
    info = take_backup(reg, out, now=clock, cancel=threading.Event())  # not set: taken
    assert max_id(info.path) == 100_000
