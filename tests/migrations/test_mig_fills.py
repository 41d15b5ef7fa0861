"""0002's NULL fills in few passes (fills.py): which ride on the backfill's UPDATE, and that every
row ends without a NULL 7zarch-go cannot scan whichever way its uid came."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.conftest import BASELINE_ARCHIVES
from zarchd.migrations import load_catalog, migrate
from zarchd.migrations.builtins import _FILLS_0002
from zarchd.migrations.fills import plan_fills

from .conftest import query

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


def test_indexed_columns_keep_their_own_update_the_rest_ride_along(tmp_path: Path) -> None:
    # An index on the rowid alias covers no fill column.
    folded, separate = _plan(_registry(tmp_path / "r.db", "CREATE INDEX idx_id ON archives(id)"))
    assert separate == ["destination"]  # idx_dest; the name's UNIQUE index is not a fill
    assert sorted(folded) == ["checksum", "managed", "metadata", "profile", "status", "uploaded"]


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
