"""Helpers for backup tests: registries in both journal modes, writer processes, corruption."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.backups.lock_loop import constant_sum_writer as constant_sum_writer  # lock loops
from tests.conftest import corrupt as corrupt  # the shared one, re-exported for these tests

WRITER = textwrap.dedent("""
    import sqlite3, sys, time, os
    path, stop = sys.argv[1], sys.argv[2]
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    i = 0
    deadline = time.monotonic() + 60
    open(stop + ".started", "w").close()
    while not os.path.exists(stop) and time.monotonic() < deadline:
        conn.execute("INSERT INTO items (payload) VALUES (?)", ("w" * 200 + str(i),))
        i += 1
        time.sleep(0.002)
    conn.close()
""")


def make_registry(path: Path, rows: int = 500, *, wal: bool = False, payload: int = 200) -> Path:
    """A registry-like database with an `items` table of `rows` rows (ids 1..rows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    if wal:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
    conn.execute("CREATE INDEX items_payload ON items(payload)")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO items (payload) VALUES (?)",
        ((f"{i:08d}" + "x" * payload,) for i in range(rows)),
    )
    conn.execute("COMMIT")
    conn.close()
    return path


def max_id(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT coalesce(max(id), 0) FROM items").fetchone()[0]
    finally:
        conn.close()


def add_row(path: Path) -> None:
    """Commit one more row: the next backup differs from the previous one."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("INSERT INTO items (payload) VALUES ('one more')")
    finally:
        conn.close()


class FixedClock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> datetime:
        self.now += timedelta(**kw)
        return self.now


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 14, 12, 0, 0, tzinfo=UTC))


@pytest.fixture(params=[False, True], ids=["journal", "wal"])
def wal(request: pytest.FixtureRequest) -> bool:
    return request.param


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[Callable[[Path], None]]:
    """Start a process committing a row every ~2 ms to a registry until the test ends."""
    procs: list[tuple[subprocess.Popen, Path]] = []

    def start(registry: Path) -> None:
        stop = tmp_path / f"stop-{len(procs)}"
        before = max_id(registry)
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(registry), str(stop)])
        procs.append((proc, stop))
        deadline = time.monotonic() + 20
        while max_id(registry) < before + 5:  # it has committed a few rows: it is writing
            assert proc.poll() is None, "the writer ended early"
            assert time.monotonic() < deadline, "the writer committed nothing"
            time.sleep(0.01)

    yield start
    for proc, stop in procs:
        stop.touch()
        try:
            assert proc.wait(timeout=20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
