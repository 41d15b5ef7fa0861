"""The migrating connection's page caches (cachesize.py): as large as the registry's work needs,
never more than a share of the memory the machine has available."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from zarchd.migrations import cachesize
from zarchd.migrations.cachesize import DEFAULT_BYTES, MAX_BYTES, cache_bytes

MIB = 1 << 20


def test_the_cache_covers_the_registry_and_what_a_step_adds() -> None:
    assert cache_bytes(200 * MIB, 24_000 * MIB) == 400 * MIB


def test_a_small_machine_bounds_the_cache_not_the_registry() -> None:
    assert cache_bytes(200 * MIB, 200 * MIB) == 50 * MIB  # a quarter of what is available
    assert cache_bytes(8_000 * MIB, 64_000 * MIB) == MAX_BYTES


def test_never_below_sqlites_own_default() -> None:
    assert cache_bytes(0, 24_000 * MIB) == DEFAULT_BYTES
    assert cache_bytes(200 * MIB, 0) == DEFAULT_BYTES


def test_available_memory_is_read_from_meminfo(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24684312 kB\nMemAvailable:   23922636 kB\n")
    assert cachesize.available_memory(meminfo) == 23922636 * 1024


def test_without_meminfo_a_share_of_the_physical_memory_is_assumed(tmp_path: Path) -> None:
    guessed = cachesize.available_memory(tmp_path / "absent")
    assert 0 < guessed < cachesize.available_memory() * 8


def test_both_caches_are_set_on_the_connection(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "r.db")
    try:
        cachesize.size_caches(conn, 200 * MIB)
        main = -conn.execute("PRAGMA main.cache_size").fetchone()[0] * 1024
        temp = -conn.execute("PRAGMA temp.cache_size").fetchone()[0] * 1024
    finally:
        conn.close()
    assert main == cache_bytes(200 * MIB, cachesize.available_memory()) // 1024 * 1024
    assert temp == max(DEFAULT_BYTES, main // 4) // 1024 * 1024
