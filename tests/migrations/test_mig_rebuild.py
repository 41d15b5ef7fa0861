"""The copy-rebuild helper on a table with indexes (DESC, partial), triggers and views."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from zarchd.core.errors import MigrationError
from zarchd.db.registry import connect
from zarchd.migrations import rebuild_table

from .conftest import columns, query

SCHEMA = [
    "CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, "
    "score INTEGER, deleted INTEGER DEFAULT 0)",
    "CREATE TABLE owners (id INTEGER PRIMARY KEY, item_id INTEGER REFERENCES items(id))",
    "CREATE TABLE log (msg TEXT)",
    "CREATE INDEX idx_items_score ON items (score DESC, name COLLATE NOCASE) WHERE deleted = 0",
    "CREATE UNIQUE INDEX idx_items_name ON items(name)",
    "CREATE TRIGGER trg_items_touch AFTER UPDATE OF score ON items\nBEGIN\n"
    "  INSERT INTO log VALUES ('score ' || new.id || ';');\nEND",
    "CREATE TRIGGER trg_owner_new AFTER INSERT ON owners BEGIN "
    "UPDATE items SET score = score + 1 WHERE id = new.item_id; END",
    "CREATE VIEW live_items AS SELECT id, name, score FROM items WHERE deleted = 0",
    "CREATE VIEW top_items AS SELECT name FROM live_items ORDER BY score DESC LIMIT 3",
]
NEW_ITEMS = (
    "CREATE TABLE items (\n  id INTEGER PRIMARY KEY AUTOINCREMENT,\n  name TEXT NOT NULL,\n"
    "  score INTEGER NOT NULL DEFAULT 0,\n  deleted INTEGER DEFAULT 0,\n"
    "  note TEXT DEFAULT ''\n)"
)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "rebuild.db"
    conn = sqlite3.connect(path)
    for sql in SCHEMA:
        conn.execute(sql)
    conn.executemany(
        "INSERT INTO items (name, score, deleted) VALUES (?, ?, ?)",
        [(f"item{i}", i * 3 % 17, i % 5 == 0) for i in range(300)],
    )
    conn.execute("DELETE FROM items WHERE id = 300")  # AUTOINCREMENT must not hand out 300 again
    conn.executemany("INSERT INTO owners (item_id) VALUES (?)", [(i,) for i in range(1, 50)])
    conn.execute("DELETE FROM log")
    conn.commit()
    conn.close()
    return path


def saved_sql(path: Path) -> dict[str, str]:
    return {
        name: sql
        for name, sql in query(
            path,
            "SELECT name, sql FROM sqlite_master WHERE type IN ('index', 'trigger', 'view') "
            "AND sql IS NOT NULL",
        )
    }


def run_rebuild(path: Path, *args: object, **kwargs: object) -> None:
    conn = connect(path)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("BEGIN IMMEDIATE")
    try:
        rebuild_table(conn, "items", *args, **kwargs)  # type: ignore[arg-type]
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()


def test_indexes_triggers_views_recreated_verbatim(db: Path) -> None:
    before_sql = saved_sql(db)
    before_rows = query(db, "SELECT id, name, score, deleted FROM items ORDER BY id")
    events: list[dict] = []
    run_rebuild(db, NEW_ITEMS, progress=events.append)

    assert saved_sql(db) == before_sql  # DESC, COLLATE and the partial WHERE all survive
    assert (
        "DESC" in before_sql["idx_items_score"]
        and "WHERE deleted = 0" in before_sql["idx_items_score"]
    )
    assert columns(db, "items") == ["id", "name", "score", "deleted", "note"]
    assert query(db, "SELECT id, name, score, deleted FROM items ORDER BY id") == before_rows
    assert query(db, "SELECT DISTINCT note FROM items") == [("",)]
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    assert query(db, "PRAGMA foreign_key_check") == []
    assert {e["step"] for e in events} == {"copy", "swap", "recreate"}
    # The objects work on the new table.
    conn = sqlite3.connect(db)
    conn.execute("UPDATE items SET score = 99 WHERE id = 2")
    conn.execute("INSERT INTO owners (item_id) VALUES (4)")
    conn.execute("INSERT INTO items (name) VALUES ('fresh')")
    assert conn.execute("SELECT msg FROM log").fetchall() == [("score 2;",), ("score 4;",)]
    assert conn.execute("SELECT name FROM top_items").fetchone() == ("item1",)  # id 2, score 99
    assert conn.execute("SELECT max(id) FROM items").fetchone() == (301,)
    plan = " ".join(
        str(r)
        for r in conn.execute(
            "EXPLAIN QUERY PLAN SELECT name FROM items WHERE deleted = 0 ORDER BY score DESC"
        )
    )
    assert "idx_items_score" in plan
    conn.close()


def test_select_columns_transform_the_rows(db: Path) -> None:
    run_rebuild(db, NEW_ITEMS, "id, upper(name), coalesce(score, 0), deleted, 'n' || id")
    assert query(db, "SELECT name, note FROM items WHERE id = 7") == [("ITEM6", "n7")]


def test_a_failed_rebuild_changes_nothing(db: Path) -> None:
    before = saved_sql(db), query(db, "SELECT * FROM items")
    with pytest.raises(MigrationError, match="rebuilding table items failed"):
        run_rebuild(db, NEW_ITEMS.replace("note TEXT DEFAULT ''", "note TEXT NOT NULL"))
    assert (saved_sql(db), query(db, "SELECT * FROM items")) == before


def test_refuses_outside_a_transaction_or_with_foreign_keys_on(db: Path) -> None:
    conn = connect(db)
    try:
        with pytest.raises(MigrationError, match="inside the migration's transaction"):
            rebuild_table(conn, "items", NEW_ITEMS)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("BEGIN")
        with pytest.raises(MigrationError, match="foreign keys must be OFF"):
            rebuild_table(conn, "items", NEW_ITEMS)
        conn.execute("PRAGMA foreign_keys = OFF")  # silently ignored inside a transaction
        with pytest.raises(MigrationError, match="foreign keys must be OFF"):
            rebuild_table(conn, "items", NEW_ITEMS)
        conn.execute("ROLLBACK")
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("BEGIN")
        with pytest.raises(MigrationError, match="CREATE TABLE items"):
            rebuild_table(conn, "items", "CREATE TABLE other (a)")
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def test_foreign_key_violations_are_caught(db: Path) -> None:
    new = (
        "CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, "
        "score INTEGER, deleted INTEGER DEFAULT 0)"
    )
    with pytest.raises(MigrationError, match="foreign key violations"):
        run_rebuild(db, new, "id + 1000, name, score, deleted")  # owners now point nowhere
    assert query(db, "SELECT min(id) FROM items") == [(1,)]
