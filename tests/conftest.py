"""Shared fixtures: isolated user dirs, the real 7zarch-go registry, generated old registries."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"
E2E = Path(__file__).parent / "e2e"
FIXTURE_0005 = DATA / "registry-0005.db"

# The archives table as 7zarch-go created it before its migration system (0001 in effect).
BASELINE_ARCHIVES = """
CREATE TABLE archives (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT UNIQUE NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    created TIMESTAMP NOT NULL,
    checksum TEXT,
    profile TEXT,
    uploaded BOOLEAN DEFAULT FALSE,
    destination TEXT,
    uploaded_at TIMESTAMP,
    metadata TEXT
)
"""


@pytest.hookimpl(optionalhook=True)  # an xdist hook: unknown when xdist is not loaded
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadfile`: the longest files first, one per worker (tests/xdist_order.py)."""
    if config.getvalue("dist") != "loadfile":
        return None  # xdist's own scheduler
    from tests.xdist_order import LongestFilesFirst

    return LongestFilesFirst(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/e2e runs real processes: marked e2e, so `-m "not e2e"` skips it."""
    for item in items:
        if item.path.is_relative_to(E2E):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def isolated_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test gets its own config/state/runtime dirs; nothing touches the real home."""
    home = tmp_path_factory.mktemp("home")
    for var, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_RUNTIME_DIR", "run"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
    ):
        (home / sub).mkdir(mode=0o700)
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.setenv("HOME", str(home))
    for var in (
        "ZARCH_CONFIG",
        "ZARCH_REGISTRY",
        "ZARCH_SOCKET",
        "ZARCH_LOG_LEVEL",
        "ZARCH_DB_AUTOMIGRATE",
        "NOTIFY_SOCKET",
        "WATCHDOG_USEC",
        "WATCHDOG_PID",
        "STATE_DIRECTORY",
        "RUNTIME_DIRECTORY",
    ):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def registry_0005(tmp_path: Path) -> Path:
    """A private copy of the registry 7zarch-go itself wrote (schema 0005, rollback journal)."""
    target = tmp_path / "reg" / "registry.db"
    target.parent.mkdir()
    shutil.copyfile(FIXTURE_0005, target)
    return target


def make_baseline_registry(path: Path, rows: int = 0, *, wal: bool = False) -> Path:
    """An old registry: only the baseline archives table, no schema_migrations, `rows` archives."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    if wal:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(BASELINE_ARCHIVES)
    conn.executemany(
        "INSERT INTO archives (name, path, size, created, checksum, profile, uploaded,"
        " destination, uploaded_at, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (
                f"archive-{i:06d}.7z",
                f"/data/archives/archive-{i:06d}.7z",
                1000 + i * 7,
                f"2024-01-{1 + i % 28:02d} 10:{i % 60:02d}:00",
                f"sha256:{i:064x}",
                ("media", "documents", "balanced")[i % 3],
                i % 2,
                "s3" if i % 5 == 0 else None,
                None,
                f'{{"n": {i}}}' if i % 4 == 0 else None,
            )
            for i in range(rows)
        ),
    )
    conn.commit()
    conn.close()
    return path


def archive_rows(db: Path) -> int:
    """How many archives a registry (or a copy of one) holds, read only."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM archives").fetchone()[0])
    finally:
        conn.close()


def corrupt(path: Path) -> None:
    """Damage a b-tree page (page 3 on), holding no connection open afterwards: recover rightly
    refuses while any process (this one too) has the registry open for writing."""
    conn = sqlite3.connect(path)
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with open(path, "r+b") as fh:
        fh.seek(page * 3 + 8)
        fh.write(b"\xff\x13" * 300)


def tamper(path: Path, *, at: int | None = None, data: bytes | None = None) -> None:
    """Change a file in place, keeping its size: write `data` at offset `at`, or by default flip
    one bit in the middle (bit rot a hash catches and SQLite may not)."""
    with open(path, "r+b") as fh:
        if data is not None:
            assert at is not None, "where to write it"
            fh.seek(at)
            fh.write(data)
            return
        fh.seek(path.stat().st_size // 2 if at is None else at)
        byte = fh.read(1)
        fh.seek(-1, os.SEEK_CUR)
        fh.write(bytes([byte[0] ^ 0x01]))


@pytest.fixture
def baseline_registry(tmp_path: Path) -> Path:
    return make_baseline_registry(tmp_path / "old" / "registry.db", rows=2000)
