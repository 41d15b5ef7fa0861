"""Issue 9, defect 1: status and fingerprints polled inside the daemon's process must never break
the SQLite locks of its own backups and checks.

Closing ANY descriptor of a file drops every POSIX lock the process holds on it, SQLite's
included. When `status` read the registry's header with a plain open() while a backup or a check
ran in the same process, a writer got in mid-read: checks saw a healthy registry as damaged and
torn backups were published as verified. Here a separate writer process (5 s busy timeout, like
7zarch-go) moves 1,000 between two archives in every commit, so `sum(size)` is the same in every
consistent state; any backup with another sum is torn.

The loop and its writer; one test file per journal mode (test_lock_safety_loop*.py), so that
`--dist loadfile` runs the two modes (about 15 s each) on different workers.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zarchd import backups
from zarchd.app.operations import Operations
from zarchd.app.status import build_status
from zarchd.core.config import load_config
from zarchd.core.errors import IntegrityFailure, ZarchError

ROWS = 1500
START_SIZE = 10_000
BACKUPS_PER_MODE = 50

# Moves 1,000 from an archive in the first half to one in the second half in each commit: a copy
# that reads the first half before a commit and the second half after it is off by 1,000.
WRITER = textwrap.dedent("""
    import os, random, sqlite3, sys, time
    path, stop, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
    conn = sqlite3.connect(path, timeout=5.0, isolation_level=None)  # 7zarch-go waits 5 s
    commits = 0
    open(stop + ".started", "w").close()
    deadline = time.monotonic() + 120
    while not os.path.exists(stop) and time.monotonic() < deadline:
        a, b = random.randint(1, rows // 2), random.randint(rows // 2 + 1, rows)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("UPDATE archives SET size = size - 1000 WHERE id = ?", (a,))
            conn.execute("UPDATE archives SET size = size + 1000 WHERE id = ?", (b,))
            # rows of size 0 come and go: pages split and merge, the index changes too
            conn.execute("INSERT INTO archives (name, size, metadata) VALUES (?, 0, ?)",
                         (f"scratch-{commits}-{random.random()}", "s" * 600))
            if commits % 2:
                conn.execute("DELETE FROM archives WHERE id = (SELECT min(id) FROM archives "
                             "WHERE id > ?)", (rows,))
            conn.execute("COMMIT")
            commits += 1
        except sqlite3.OperationalError:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        time.sleep(0.002)
    conn.close()
    print(commits)
""")


def _make_registry(path: Path, wal: bool) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA journal_mode={'WAL' if wal else 'DELETE'}")
    conn.execute(
        "CREATE TABLE archives (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "size INTEGER NOT NULL, metadata TEXT)"
    )
    conn.execute("CREATE UNIQUE INDEX archives_name ON archives(name)")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO archives (name, size, metadata) VALUES (?, ?, ?)",
        ((f"archive-{i:06d}.7z", START_SIZE, "m" * 300) for i in range(ROWS)),
    )
    conn.execute("COMMIT")
    conn.close()
    return ROWS * START_SIZE


@pytest.fixture
def constant_sum_writer(tmp_path: Path) -> Iterator[Any]:
    procs: list[tuple[subprocess.Popen[str], Path]] = []

    def start(registry: Path) -> None:
        stop = tmp_path / f"stop-{len(procs)}"
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(registry), str(stop), str(ROWS)],
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append((proc, stop))
        deadline = time.monotonic() + 20
        while not Path(str(stop) + ".started").exists():
            assert time.monotonic() < deadline and proc.poll() is None, "writer did not start"
            time.sleep(0.01)

    yield start
    for proc, stop in procs:
        stop.touch()
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()


def _backup_problems(path: Path, expected_sum: int) -> list[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        check = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        total = conn.execute("SELECT sum(size) FROM archives").fetchone()[0]
    finally:
        conn.close()
    problems = [] if check == ["ok"] else [f"integrity: {check[:2]}"]
    if total != expected_sum:
        problems.append(f"torn: sum(size) is {total}, not {expected_sum}")
    return problems


def run_loop(tmp_path: Path, wal: bool, writer: Any, backups_wanted: int) -> dict[str, Any]:
    """Backups and checks as the daemon runs them, status and fingerprint polled meanwhile in
    the same process; returns the counts of every kind of outcome."""
    registry = tmp_path / ("wal" if wal else "journal") / "registry.db"
    expected = _make_registry(registry, wal)
    ops = Operations(load_config(None, {"ZARCH_REGISTRY": str(registry)}))
    counts: dict[str, Any] = {
        "backups": 0,
        "torn": [],
        "false_damage": [],
        "status_damaged": [],
        "busy": 0,
        "polls": 0,
        "checks": 0,
    }
    stop = threading.Event()

    def poll_status() -> None:
        while not stop.is_set():
            report = build_status(ops)["registry"]
            if report["integrity"] == "damaged":
                counts["status_damaged"].append(report.get("integrity_problems"))
            counts["polls"] += 1
            time.sleep(0.001)  # a tight loop that still leaves the GIL to the others

    def poll_fingerprint() -> None:  # the watcher and the scheduler ask for it any time
        while not stop.is_set():
            backups.fingerprint(registry)
            time.sleep(0.0002)  # leave the GIL to the other threads

    writer(registry)
    pollers = [
        threading.Thread(target=poll_status, daemon=True),
        threading.Thread(target=poll_fingerprint, daemon=True),
    ]
    for poller in pollers:
        poller.start()
    try:
        attempts = 0
        while counts["backups"] < backups_wanted and attempts < backups_wanted * 3:
            attempts += 1
            try:
                # the daemon's copy, check and publish (without its state bookkeeping: faster);
                # every other one copied as a large registry is (the child process under the
                # read lock: copychild.py), the others by VACUUM INTO in this process
                info = backups.take_backup(
                    registry, registry.parent, in_process_max=0 if attempts % 2 else None
                )
                counts["backups"] += 1
                problems = _backup_problems(info.path, expected)
                if problems:
                    counts["torn"].append((info.name, problems))
            except IntegrityFailure as exc:
                counts["false_damage"].append(exc.message)
            except ZarchError:
                counts["busy"] += 1
            try:
                result = ops.check()
                counts["checks"] += 1
                if not result["ok"]:
                    counts["false_damage"].append(result["problems"][:2])
            except ZarchError:
                counts["busy"] += 1
    finally:
        stop.set()
        for poller in pollers:
            poller.join(timeout=30)
    return counts


def assert_sound(counts: dict[str, Any]) -> None:
    assert counts["polls"] > BACKUPS_PER_MODE  # status really ran meanwhile
    assert counts["backups"] >= BACKUPS_PER_MODE, counts
    assert counts["torn"] == [], counts
    assert counts["false_damage"] == [], counts
    assert counts["status_damaged"] == [], counts
