"""0002's NULL fills in few passes (fills.py): which ride on the backfill's UPDATE, and that every
row ends without a NULL 7zarch-go cannot scan whichever way its uid came."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import BASELINE_ARCHIVES
from zarchd.core.errors import MigrationError
from zarchd.migrations import load_catalog, migrate
from zarchd.migrations.builtins import _FILLS_0002
from zarchd.migrations.fills import plan_fills

from .conftest import dump, query

_COLUMNS = "checksum, profile, destination, metadata, uploaded, managed, status"


def _registry(path: Path, extra_sql: str = "") -> Path:
    conn = sqlite3.connect(path)
    conn.execute(BASELINE_ARCHIVES)
    conn.execute("CREATE INDEX idx_dest ON archives(destination)")
    if extra_sql:
        conn.execute(extra_sql)
    with conn:
        conn.executemany(
            "INSERT INTO archives (name, path, size, created, uploaded) VALUES (?, ?, 1, ?, ?)",
            [
                ("a.7z", "/a", "2024-01-02 03:04:05", None),  # the SQL backfill's row
                ("b.7z", "/b", "not a time", 1),  # the Python maker's row
                ("c.7z", "/c", "2024-01-02 03:04:05.5Z", None),
            ],
        )
    conn.close()
    return path


def _plan(path: Path) -> tuple[list[str], list[str]]:
    conn = sqlite3.connect(path)
    try:
        conn.execute("ALTER TABLE archives ADD COLUMN managed BOOLEAN DEFAULT FALSE")
        conn.execute("ALTER TABLE archives ADD COLUMN status TEXT")
        plan = plan_fills(conn, _FILLS_0002)
        return [f.column for f in plan.folded], [f.column for f in plan.separate]
    finally:
        conn.close()


def _add_rows(path: Path, count: int, destination: str | None) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO archives (name, path, size, created, destination) VALUES (?, '/x', 1, "
            "'2024-01-02 03:04:05', ?)",
            [(f"more-{i}.7z", destination) for i in range(count)],
        )
    conn.close()


def test_indexed_columns_keep_their_own_update_when_few_rows_need_it(tmp_path: Path) -> None:
    # An index on the rowid alias covers no fill column.
    path = _registry(tmp_path / "r.db", "CREATE INDEX idx_id ON archives(id)")
    _add_rows(path, 10, "s3")  # 3 NULL destinations in 13 rows: under REBUILD_SHARE
    folded, separate = _plan(path)
    assert separate == ["destination"]  # idx_dest; the name's UNIQUE index is not a fill
    assert sorted(folded) == ["checksum", "managed", "metadata", "profile", "status", "uploaded"]


def test_a_mostly_null_indexed_column_rides_along_and_its_index_is_made_again(
    tmp_path: Path,
) -> None:
    """At 1M rows with 80 % NULL destinations the separate UPDATE (maintaining idx_dest row by
    row) cost 1.3 s, the fold plus a fresh build of the index 0.4 s."""
    path = _registry(tmp_path / "r.db")
    _add_rows(path, 3, "s3")  # 3 NULL destinations in 6 rows
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE archives ADD COLUMN status TEXT")
    plan = plan_fills(conn, _FILLS_0002)
    conn.close()
    assert "destination" in [f.column for f in plan.folded] and plan.separate == ()
    assert plan.drops() == ['DROP INDEX "idx_dest"']
    assert plan.recreates() == ["CREATE INDEX idx_dest ON archives(destination)"]
    sql = "SELECT sql FROM sqlite_master WHERE name = 'idx_dest'"
    before = query(path, sql)
    migrate(path, load_catalog(None), timeout=60, app_version="t")
    assert query(path, sql) == before  # the same index, made again by its own SQL
    assert query(path, "PRAGMA integrity_check") == [("ok",)]  # its entries match the rows
    assert query(path, "SELECT count(*) FROM archives WHERE destination = ''") == [(3,)]


@pytest.mark.parametrize(
    "extra",
    [
        "CREATE INDEX idx_expr ON archives(lower(profile))",
        "CREATE INDEX idx_part ON archives(name) WHERE metadata IS NOT NULL",
        "CREATE TRIGGER t AFTER UPDATE OF metadata ON archives BEGIN SELECT 1; END",
    ],
)
def test_nothing_is_folded_when_an_index_or_trigger_may_read_any_column(
    tmp_path: Path, extra: str
) -> None:
    folded, separate = _plan(_registry(tmp_path / "r.db", extra))
    assert folded == [] and len(separate) == 7


@pytest.mark.parametrize("extra", ["", "CREATE INDEX idx_expr ON archives(lower(profile))"])
def test_every_row_ends_without_nulls_however_its_uid_came(tmp_path: Path, extra: str) -> None:
    path = _registry(tmp_path / "r.db", extra)
    migrate(path, load_catalog(None), timeout=60, app_version="t")
    rows = query(path, f"SELECT {_COLUMNS}, length(uid) FROM archives ORDER BY id")
    assert rows == [
        ("", "", "", "", 0, 0, "present", 26),
        ("", "", "", "", 1, 0, "present", 26),
        ("", "", "", "", 0, 0, "present", 26),
    ]


def test_a_failure_after_the_index_was_dropped_rolls_it_back(tmp_path: Path) -> None:
    """The dropped index is part of 0002's transaction: when 0002 fails (here the index itself
    cannot be made again: its NULLs became equal ''), it is back as it was, and so is every
    row."""
    path = _registry(tmp_path / "r.db", "CREATE UNIQUE INDEX idx_udest ON archives(destination)")
    conn = sqlite3.connect(path)
    conn.execute("DROP INDEX idx_dest")  # idx_udest alone covers destination
    conn.commit()
    conn.close()
    catalog = load_catalog(None)
    migrate(path, [m for m in catalog if m.id == "0001_baseline"], timeout=60, app_version="t")
    shutil.copyfile(path, tmp_path / "plan.db")
    conn = sqlite3.connect(tmp_path / "plan.db")
    conn.execute("ALTER TABLE archives ADD COLUMN status TEXT")
    assert 'DROP INDEX "idx_udest"' in plan_fills(conn, _FILLS_0002).drops()  # the new path
    conn.close()
    before = dump(path)
    with pytest.raises(MigrationError, match=r"0002_identity_and_status.*UNIQUE"):
        migrate(path, catalog, timeout=60, app_version="t")
    assert dump(path) == before
    assert query(path, "PRAGMA integrity_check") == [("ok",)]
