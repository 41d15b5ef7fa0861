"""The set-based uid backfill (uidsql): the SQL reads a `created` time only when it reads it
exactly as gotime.created_ms does, and leaves every other row to the Python maker."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from tests.conftest import BASELINE_ARCHIVES
from zarchd.migrations import load_catalog, migrate, uidsql
from zarchd.migrations.gotime import created_ms
from zarchd.migrations.ulid import ALPHABET

from .conftest import query

# Layouts 7zarch-go writes, and near misses where SQLite's own date parser would differ from
# Go's (it moves Feb 30 to March, takes hour 24, rejects zones past 14 h, reads "+0530" as junk).
CREATED: list[object] = [
    "2025-08-14 00:32:31.533452123-05:00",  # go-sqlite3's layout
    "2025-08-14T05:32:31.999999Z",
    "2025-08-14 05:32:31.5",
    # Go's .999999999 drops trailing zeros: short fractions before a zone (review, 2026-11-29)
    "2024-03-05 10:11:12.5Z",
    "2024-03-05 10:11:12.12+02:00",
    "2024-03-05T10:11:12.1-07:00",
    "2025-08-14 05:32:31",
    "2024-02-29 23:59:59.9996+14:00",
    "2024-01-01 00:00:00+15:00",
    "2024-01-01 00:00:00+0530",
    "2025-08-14 05:32:31.533452 +0000 UTC",
    "2023-02-29 10:00:00",
    "2024-04-31 10:00:00",
    "2024-01-31 24:00:00",
    "2024-01-31 12:00:00.",
    "2024-01-31 12:00:00.12x",
    "2024-01-31 12:00:00Zjunk",
    "1969-12-31 23:59:59.5",
    "0000-01-01 00:00:00",
    " 2024-01-31 12:00:00",
    "not a time",
    1755149551,
    "",
]
# The rows the SQL must take itself (the fast path for what 7zarch-go writes).
SQL_READS = set(range(8))


def _registry(path: Path, created: list[object], encoding: str = "UTF-8") -> Path:
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA encoding = '{encoding}'")
    conn.execute(BASELINE_ARCHIVES)
    with conn:
        conn.executemany(
            "INSERT INTO archives (id, name, path, size, created) VALUES (?, ?, ?, 1, ?)",
            ((i + 1, f"a{i}.7z", f"/d/a{i}.7z", c) for i, c in enumerate(created)),
        )
    conn.close()
    return path


def _ms_of(uid: str) -> int:
    value = 0
    for ch in uid[:10]:
        value = value * 32 + ALPHABET.index(ch)
    return value


def test_sql_reads_a_time_exactly_as_created_ms_or_not_at_all(tmp_path: Path) -> None:
    conn = sqlite3.connect(_registry(tmp_path / "r.db", CREATED), isolation_level=None)
    conn.execute("ALTER TABLE archives ADD COLUMN uid TEXT")
    conn.execute(uidsql.CREATE_MS)
    conn.execute(uidsql.FILL_MS)
    read = dict(conn.execute(f"SELECT rid, num >> 10 FROM {uidsql.MS_TABLE}").fetchall())
    conn.close()
    for i, value in enumerate(CREATED):
        if i + 1 in read:
            assert read[i + 1] == created_ms(value), value
    assert {i for i in range(len(CREATED)) if i + 1 in read} >= SQL_READS


def test_every_row_gets_a_ulid_of_its_own_time(tmp_path: Path) -> None:
    path = _registry(tmp_path / "r.db", CREATED)
    before = datetime.now(UTC).timestamp() * 1000
    migrate(path, load_catalog(None), timeout=30, app_version="t")
    uids = dict(query(path, "SELECT id, uid FROM archives"))
    assert len({u[:12] for u in uids.values()}) == len(CREATED)
    for i, value in enumerate(CREATED):
        uid = uids[i + 1]
        assert len(uid) == 26 and set(uid) <= set(ALPHABET) and uid[0] <= "7", uid
        ms = created_ms(value)
        if ms is None:
            assert _ms_of(uid) >= before - 1, value  # no time: the upgrade's
        else:
            assert _ms_of(uid) == ms, value


def test_rows_1024_apart_in_one_millisecond_keep_distinct_prefixes(tmp_path: Path) -> None:
    """The SQL's slot is the rowid modulo 1,024: rows sharing a millisecond and a slot go to the
    Python maker. (With the slot check removed, ids 1 and 1025 shared a prefix.)"""
    path = _registry(tmp_path / "r.db", ["2024-01-02 03:04:05.250Z"] * 1100)
    migrate(path, load_catalog(None), timeout=30, app_version="t")
    prefixes = [r[0] for r in query(path, "SELECT substr(uid, 1, 12) FROM archives")]
    assert len(set(prefixes)) == 1100


def test_a_utf16_registry_is_filled_by_the_python_maker(tmp_path: Path) -> None:
    path = _registry(tmp_path / "r.db", ["2025-08-14 05:32:31.5"] * 3, encoding="UTF-16le")
    migrate(path, load_catalog(None), timeout=30, app_version="t")
    uids = [r[0] for r in query(path, "SELECT uid FROM archives")]
    assert len({u[:12] for u in uids}) == 3
    assert all(_ms_of(u) == created_ms("2025-08-14 05:32:31.5") for u in uids)


def test_the_update_walks_archives_in_rowid_order(tmp_path: Path) -> None:
    """Not through the name's index (rows written in name order, all over the table)."""
    path = _registry(tmp_path / "r.db", ["2024-01-02 03:04:05"])
    conn = sqlite3.connect(path)
    try:
        conn.execute("ALTER TABLE archives ADD COLUMN uid TEXT")
        conn.execute(uidsql.CREATE_MS)
        conn.create_function(uidsql.PROGRESS_FUNCTION, 0, lambda: "")
        plan = [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + uidsql.update_sql(500))]
    finally:
        conn.close()
    # archives is looked up by rowid, in the order of the temp table's rowids (its IN list).
    assert plan[0].startswith("SEARCH archives USING INTEGER PRIMARY KEY")
    assert plan[1] == "USING ROWID SEARCH ON TABLE zarchd_uid_ms FOR IN-OPERATOR"


def test_columns_named_like_the_temp_tables_do_not_stop_0002(tmp_path: Path) -> None:
    """An application column `ms`, `num` or `rid` on archives made the UPDATE ambiguous
    (review 2)."""
    path = _registry(tmp_path / "r.db", ["2025-08-14 05:32:31.5", "2025-08-14 05:32:32"])
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE archives ADD COLUMN ms INTEGER")
    conn.execute("ALTER TABLE archives ADD COLUMN rid INTEGER")
    conn.execute("ALTER TABLE archives ADD COLUMN num INTEGER")
    conn.commit()
    conn.close()
    migrate(path, load_catalog(None), timeout=30, app_version="t")
    uids = [r[0] for r in query(path, "SELECT uid FROM archives ORDER BY id")]
    assert _ms_of(uids[0]) == created_ms("2025-08-14 05:32:31.5") and len(set(uids)) == 2


def test_a_lower_case_uid_already_there_keeps_its_prefix_to_itself(tmp_path: Path) -> None:
    """7zarch-go matches a prefix ignoring case: a new uid must not differ from an existing
    lower-case one only in case (review 2)."""
    created = "2024-01-02 03:04:05.250Z"
    path = _registry(tmp_path / "r.db", [created] * 2)
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE archives ADD COLUMN uid TEXT")
    slot = 2 % 1024  # the slot the SQL gives row id 2
    prefix = ""
    value = created_ms(created) * 1024 + slot  # type: ignore[operator]
    for _ in range(12):
        prefix = ALPHABET[value % 32] + prefix
        value //= 32
    conn.execute("UPDATE archives SET uid = ? WHERE id = 1", (prefix.lower() + "0" * 14,))
    conn.commit()
    conn.close()
    migrate(path, load_catalog(None), timeout=30, app_version="t")
    uids = [r[0] for r in query(path, "SELECT uid FROM archives ORDER BY id")]
    assert len({u[:12].upper() for u in uids}) == 2, uids


def test_the_times_are_read_in_one_pass_each_row_computed_once(tmp_path: Path) -> None:
    """`parts` is not flattened into the outer query (each use of `zone` re-evaluated its
    CASE)."""
    conn = sqlite3.connect(_registry(tmp_path / "r.db", ["2024-01-02 03:04:05"]))
    try:
        conn.execute("ALTER TABLE archives ADD COLUMN uid TEXT")
        conn.execute(uidsql.CREATE_MS)
        plan = [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + uidsql.FILL_MS)]
    finally:
        conn.close()
    assert plan == ["MATERIALIZE parts", "SCAN archives", "SCAN parts"]
