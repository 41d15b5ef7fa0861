"""The uid backfill: ULIDs from each row's `created`, 12-character prefixes (7zarch-go's IDs)
distinct, one set-based UPDATE, and NULLs 7zarch-go cannot scan filled as it fills them."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from tests.conftest import make_baseline_registry
from zarchd.migrations import load_catalog, migrate
from zarchd.migrations.backfill import created_ms
from zarchd.migrations.ulid import ALPHABET

from .conftest import query


def _ms_of(uid: str) -> int:
    value = 0
    for ch in uid[:10]:
        value = value * 32 + ALPHABET.index(ch)
    return value


def _old_registry(path: Path, created: list[str]) -> Path:
    make_baseline_registry(path)
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO archives (name, path, size, created) VALUES (?, ?, 1, ?)",
            ((f"a{i}.7z", f"/d/a{i}.7z", c) for i, c in enumerate(created)),
        )
    conn.close()
    return path


def test_ten_thousand_rows_in_one_millisecond_get_distinct_prefixes(tmp_path: Path) -> None:
    path = _old_registry(tmp_path / "registry.db", ["2024-01-02 03:04:05"] * 10_000)
    migrate(path, load_catalog(None), timeout=60, app_version="t")
    uids = [r[0] for r in query(path, "SELECT uid FROM archives")]
    assert len({u[:12] for u in uids}) == 10_000
    base = int(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp() * 1000)
    spread = [_ms_of(u) - base for u in uids]
    assert min(spread) == 0 and max(spread) < 100  # spread over nearby milliseconds only


def test_ten_thousand_distinct_times_sort_by_age(tmp_path: Path) -> None:
    created = [
        f"2023-{1 + i % 12:02d}-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}"
        f".{i:04d}+02:00"
        for i in range(10_000)
    ]
    path = _old_registry(tmp_path / "registry.db", created)
    migrate(path, load_catalog(None), timeout=60, app_version="t")
    rows = query(path, "SELECT uid, created FROM archives")
    assert len({u[:12] for u, _c in rows}) == 10_000
    for uid, c in rows:
        assert _ms_of(uid) == created_ms(c)  # time part is the row's own created time
    by_uid = [c for _u, c in sorted(rows)]
    assert by_uid == sorted(by_uid, key=created_ms)


def test_existing_prefixes_are_never_reused(tmp_path: Path) -> None:
    path = _old_registry(tmp_path / "registry.db", ["2024-01-02 03:04:05"] * 1200)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("ALTER TABLE archives ADD COLUMN uid TEXT")
        # 1000 rows already carry every prefix but a few of that millisecond.
        conn.execute(
            "UPDATE archives SET uid = '01HK421P48' || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ',"
            " 1 + (id - 1) / 32, 1) || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ',"
            " 1 + (id - 1) % 32, 1) || 'AAAAAAAAAAAAAA' WHERE id <= 1000"
        )
    conn.close()
    migrate(path, load_catalog(None), timeout=60, app_version="t")
    uids = [r[0] for r in query(path, "SELECT uid FROM archives")]
    assert len({u[:12] for u in uids}) == 1200


def test_created_times_parse_as_go_sqlite3_reads_them() -> None:
    utc = int(datetime(2025, 8, 14, 5, 32, 31, 533452, tzinfo=UTC).timestamp() * 1000)
    assert created_ms("2025-08-14 00:32:31.533452-05:00") == utc
    assert created_ms("2025-08-14 00:32:31.533452123-05:00") == utc
    assert created_ms("2025-08-14T05:32:31.533452Z") == utc
    assert created_ms("2025-08-14 05:32:31.533452 +0000 UTC") == utc
    assert created_ms("2025-08-14 05:32:31") == utc - 533
    assert created_ms(1755149551) == 1755149551000
    assert created_ms("yesterday") is None and created_ms(None) is None
    assert created_ms("2025-02-30 00:00:00") is None


def test_unparseable_created_gets_the_time_of_the_upgrade(tmp_path: Path) -> None:
    path = _old_registry(tmp_path / "registry.db", ["not a time", "2024-01-02 03:04:05"])
    before = datetime.now(UTC).timestamp() * 1000
    migrate(path, load_catalog(None), timeout=60, app_version="t")
    uids = dict(query(path, "SELECT name, uid FROM archives"))
    assert _ms_of(uids["a0.7z"]) >= before - 1
    assert uids["a1.7z"] < uids["a0.7z"]


def test_upgrade_fills_nulls_7zarch_go_cannot_scan(tmp_path: Path) -> None:
    path = _old_registry(tmp_path / "registry.db", ["2024-01-02 03:04:05"])
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE archives SET uploaded = NULL")
    conn.close()
    migrate(path, load_catalog(None), timeout=60, app_version="t")
    assert query(
        path,
        "SELECT checksum, profile, destination, metadata, original_path, uploaded,"
        " managed, status, uploaded_at, last_seen, deleted_at FROM archives",
    ) == [("", "", "", "", "", 0, 0, "present", None, None, None)]


def test_the_one_update_stops_at_the_deadline_and_leaves_nothing(tmp_path: Path) -> None:
    import time

    import pytest

    from zarchd.migrations.backfill import backfill_uids
    from zarchd.migrations.context import DeadlinePassed, StepContext

    path = _old_registry(tmp_path / "registry.db", ["2024-01-02 03:04:05"] * 3000)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("ALTER TABLE archives ADD COLUMN uid TEXT")
    conn.execute("BEGIN IMMEDIATE")
    events: list[dict] = []
    # Past its deadline while the UPDATE runs: the function itself stops it (no handler set).
    ctx = StepContext(
        conn, "0002_identity_and_status", progress=events.append, deadline=time.monotonic() + 3600
    )

    def expire(event: dict) -> None:
        events.append(event)
        if event.get("phase") == "update":
            ctx.deadline = time.monotonic() - 1  # the first progress report finds time is up

    ctx.progress = expire
    with pytest.raises(DeadlinePassed):
        backfill_uids(ctx)
    conn.execute("ROLLBACK")
    assert conn.execute("SELECT count(*) FROM archives WHERE uid IS NOT NULL").fetchone()[0] == 0
    assert [e["phase"] for e in events] == ["start", "update"]  # stopped at the first update
    assert events[1]["done"] == 500 and events[1]["total"] == 3000
    conn.close()


def test_infinite_or_nan_created_gets_the_time_of_the_upgrade(tmp_path: Path) -> None:
    """A REAL `created` of inf or NaN is no time: it once made the whole 0002 fail ("string or
    blob too big") at every start; now such rows get a uid of the upgrade's time."""
    path = _old_registry(tmp_path / "registry.db", ["2024-01-02 03:04:05"] * 3)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE archives SET created = 9e999 WHERE name = 'a0.7z'")  # inf
        conn.execute("UPDATE archives SET created = -9e999 WHERE name = 'a1.7z'")  # -inf
    conn.close()
    assert created_ms(float("nan")) is None and created_ms(float("inf")) is None
    before = datetime.now(UTC).timestamp() * 1000
    migrate(path, load_catalog(None), timeout=60, app_version="t")
    uids = dict(query(path, "SELECT name, uid FROM archives"))
    assert _ms_of(uids["a0.7z"]) >= before - 1 and _ms_of(uids["a1.7z"]) >= before - 1
    assert uids["a2.7z"] < uids["a0.7z"]
