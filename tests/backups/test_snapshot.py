"""The copy of a large registry (a child process) and the check each backup gets.

`in_process_max=0` sends a small registry down the path a large one takes, and
`always_full_max=0` gives it the check schedule a large one has.
"""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import timedelta
from pathlib import Path

import pytest

from zarchd.backups import list_backups, take_backup, verify_backup
from zarchd.backups.checkplan import full_check_due
from zarchd.backups.meta import info_from
from zarchd.core.errors import BackupError, Cancelled, IntegrityFailure

from .conftest import FixedClock, add_row, corrupt, make_registry, max_id

LARGE = {"in_process_max": 0, "always_full_max": 0}


def _sidecar(backup: Path) -> dict:
    return json.loads(Path(f"{backup}.json").read_text())


def test_rollback_mode_copy_is_the_file_itself_and_checks_follow_the_schedule(
    tmp_path: Path, clock: FixedClock
) -> None:
    reg = make_registry(tmp_path / "registry.db", 300)
    out = tmp_path / "b"
    seen: list[dict] = []
    first = take_backup(reg, out, now=clock, progress=seen.append, **LARGE)
    # The bytes of the registry under its read lock, not SQLite's page-by-page rewrite.
    assert first.path.read_bytes() == reg.read_bytes()
    assert _sidecar(first.path)["check"] == "integrity"  # none before it: the full check
    assert (seen[0]["stage"], seen[0]["phase"]) == ("copy", "start")
    assert seen[0]["total"] == reg.stat().st_size
    clock.advance(hours=1)
    add_row(reg)
    second = take_backup(reg, out, now=clock, **LARGE)
    assert _sidecar(second.path)["check"] == "quick" and second.check == "quick"
    assert max_id(second.path) == 301
    clock.advance(days=8)  # the last full check is older than the default week
    add_row(reg)
    third = take_backup(reg, out, now=clock, **LARGE)
    assert third.check == "integrity"
    clock.advance(hours=1)
    add_row(reg)
    always = take_backup(reg, out, now=clock, full_check_every_s=0, **LARGE)
    assert always.check == "integrity"
    listed = {b.name: b.check for b in list_backups(reg, out)}
    assert listed[second.name] == "quick" and listed[always.name] == "integrity"
    assert verify_backup(list_backups(reg, out)[1], now=clock).ok  # now fully checked
    assert _sidecar(second.path)["check"] == "integrity"


def test_wal_mode_copy_has_the_commits_still_in_the_wal(tmp_path: Path, clock: FixedClock) -> None:
    reg = make_registry(tmp_path / "registry.db", 300, wal=True)
    app = sqlite3.connect(reg, isolation_level=None)
    app.execute("PRAGMA wal_autocheckpoint=0")
    app.execute("INSERT INTO items (payload) VALUES ('only in the wal')")
    try:
        info = take_backup(reg, tmp_path / "b", now=clock, **LARGE)
    finally:
        app.close()
    assert max_id(info.path) == 301 and info.verified


def test_large_copy_honours_its_deadline_and_a_lock(tmp_path: Path, clock: FixedClock) -> None:
    reg = make_registry(tmp_path / "registry.db", 300)
    out = tmp_path / "b"
    with pytest.raises(Cancelled, match="did not finish within"):
        take_backup(reg, out, now=clock, deadline_s=0.0, **LARGE)
    holder = sqlite3.connect(reg, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(BackupError, match="stayed locked by another process"):
            take_backup(reg, out, now=clock, deadline_s=1.2, **LARGE)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert list(out.iterdir()) == []  # no temp file, no journal, no backup


def test_large_copy_of_a_damaged_registry_is_refused(tmp_path: Path, clock: FixedClock) -> None:
    reg = make_registry(tmp_path / "registry.db", 2000)
    good = take_backup(reg, tmp_path / "b", now=clock, **LARGE)
    clock.advance(hours=1)
    corrupt(reg)
    with pytest.raises(IntegrityFailure, match=r"(?s)registry is damaged.*quick check.*recover"):
        take_backup(reg, tmp_path / "b", now=clock, **LARGE)
    reg.write_bytes(b"not a database" * 1000)
    with pytest.raises(IntegrityFailure, match=r"registry is damaged"):
        take_backup(reg, tmp_path / "b", now=clock, **LARGE)
    assert [b.name for b in list_backups(reg, tmp_path / "b")] == [good.name]
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == [good.name, f"{good.name}.json"]


def test_full_check_is_due_when_no_recent_backup_had_one(clock: FixedClock) -> None:
    now = clock.now

    def info(hours_ago: float, check: str | None) -> object:
        meta = {"created_at": (now - timedelta(hours=hours_ago)).isoformat(), "sha256": "x"}
        if check is not None:
            meta["check"] = check
        return info_from(Path("/b/x.bak"), meta, now, 1)

    week = 7 * 86400.0
    assert full_check_due([], now, week)
    assert not full_check_due([info(1, "integrity")], now, week)
    assert full_check_due([info(1, "quick"), info(200, "integrity")], now, week)
    assert not full_check_due([info(5, None)], now, week)  # an old sidecar: it had the full one
    assert full_check_due([info(1, "integrity")], now, 0)
    foreign = info_from(Path("/b/y.bak"), None, now, 1)
    assert foreign.check is None and full_check_due([foreign], now, week)  # type: ignore[list-item]


@pytest.mark.parametrize("in_process_max", [1 << 40, 0], ids=["vacuum-into", "child"])
def test_a_hot_journal_is_told_as_a_crashed_writer_not_as_damage(
    tmp_path: Path, in_process_max: int
) -> None:
    """A writer killed mid-transaction leaves a hot journal our read-only connection cannot roll
    back: say so (recover would refuse: it is not damage) (review, 2026-11-29)."""
    import os
    import subprocess
    import sys

    from zarchd.backups.snapshot import copy_snapshot
    from zarchd.core.progress import no_progress

    db = tmp_path / "registry.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
    conn.executemany("INSERT INTO t (v) VALUES (randomblob(1000))", [()] * 3000)
    conn.commit()
    conn.close()
    dies = (
        "import os, sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('PRAGMA cache_size = 10')\n"  # spills the change into the db file
        "c.execute('BEGIN')\n"
        "c.execute('UPDATE t SET v = randomblob(1000)')\n"
        "os._exit(9)\n"
    )
    subprocess.run([sys.executable, "-c", dies, str(db)], check=False)
    assert os.path.getsize(f"{db}-journal") > 0
    tmp = tmp_path / "copy.tmp"
    tmp.write_bytes(b"")
    with pytest.raises(BackupError) as err:
        copy_snapshot(
            db, tmp, deadline_s=30, progress=no_progress, cancel=None, in_process_max=in_process_max
        )
    assert not isinstance(err.value, IntegrityFailure)
    assert "stopped mid-transaction" in err.value.message and "recover" not in err.value.message


def test_a_child_that_closes_its_output_and_hangs_meets_the_deadline(
    tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parent learns of the copy child's end from its stdout; a child that closes stdout
    but goes on (never seen, but the deadline must hold) is still waited for only until the
    deadline, then killed."""
    from zarchd.backups import snapshot

    reg = make_registry(tmp_path / "registry.db", 300)
    child = tmp_path / "stuck_child.py"
    child.write_text("import os, time\nos.close(1)\ntime.sleep(60)\n")
    monkeypatch.setattr(snapshot, "CHILD", child)
    started = time.monotonic()
    with pytest.raises(Cancelled, match="did not finish within"):
        take_backup(reg, tmp_path / "b", now=clock, deadline_s=1.0, **LARGE)
    assert time.monotonic() - started < 10
    assert list((tmp_path / "b").iterdir()) == []
