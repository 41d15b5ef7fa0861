"""A migration step and its ledger row commit together, and a failed step leaves no transaction
open: observed on the runner's own connection (SQLite's trace callback, the step's exit state)
before that connection is closed, since close() would hide a transaction left open."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_baseline_registry
from zarchd.core.errors import MigrationError, MigrationTimeout
from zarchd.migrations import load_catalog, migrate, runner

from .conftest import FIXTURE_IDS, columns, dump, query, recorded, write

FOREVER = (
    "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 5000000000000)"
    " SELECT count(*) FROM r;\n"
)


@dataclass
class Observed:
    statements: list[str] = field(default_factory=list)
    # After each step returned or raised, before anything else touched the connection:
    in_transaction: list[bool] = field(default_factory=list)
    other_writer_could_start: list[bool] = field(default_factory=list)


@pytest.fixture
def observed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Observed]:
    """Trace the runner's connection and record its state at the end of every step."""
    seen = Observed()
    real_connect, real_step = runner.connect, runner.run_step

    def connect(path: Path, **kw: Any) -> sqlite3.Connection:
        conn = real_connect(path, **kw)
        conn.set_trace_callback(seen.statements.append)
        seen.path = path  # type: ignore[attr-defined]
        return conn

    def run_step(conn: sqlite3.Connection, *args: Any, **kw: Any) -> Any:
        try:
            return real_step(conn, *args, **kw)
        finally:
            seen.in_transaction.append(conn.in_transaction)
            seen.other_writer_could_start.append(_can_write(seen.path))  # type: ignore[attr-defined]

    monkeypatch.setattr(runner, "connect", connect)
    monkeypatch.setattr(runner, "run_step", run_step)
    yield seen


def _can_write(path: Path) -> bool:
    """True when another connection gets the write lock at once (no transaction left open)."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


def test_ledger_row_is_written_before_commit(
    registry_0005: Path, app_dir: Path, observed: Observed
) -> None:
    write(app_dir, "0006_marker.sql", "-- migrate:up\nCREATE TABLE marker (x);\n")
    migrate(registry_0005, load_catalog(app_dir), timeout=5, app_version="t")
    assert recorded(registry_0005) == [*FIXTURE_IDS, "0006_marker"]
    sql = [s.strip().upper() for s in observed.statements]
    create = next(i for i, s in enumerate(sql) if s.startswith("CREATE TABLE MARKER"))
    begin = max(i for i, s in enumerate(sql[:create]) if s.startswith("BEGIN"))
    commit = next(i for i, s in enumerate(sql) if i > create and s == "COMMIT")
    ledger = [
        i for i, s in enumerate(sql) if "INTO SCHEMA_MIGRATIONS" in s and "'0006_MARKER'" in s
    ]
    assert ledger, observed.statements
    assert all(begin < i < commit for i in ledger), (
        "the ledger row must be in the step's own transaction: "
        f"{observed.statements[begin : max(ledger) + 1]}"
    )


def test_timeout_rolls_back_before_the_connection_closes(
    registry_0005: Path, app_dir: Path, observed: Observed
) -> None:
    before = dump(registry_0005)
    write(
        app_dir, "0006_forever.sql", "-- migrate:up\nCREATE TABLE forever_marker (x);\n" + FOREVER
    )
    with pytest.raises(MigrationTimeout, match="0006_forever"):
        migrate(registry_0005, load_catalog(app_dir), timeout=0.3, app_version="t")
    assert observed.in_transaction == [False], "the step left its transaction open"
    assert observed.other_writer_could_start == [True], "the write lock was still held"
    assert (
        query(registry_0005, "SELECT name FROM sqlite_master WHERE name = 'forever_marker'") == []
    )
    assert dump(registry_0005) == before


def test_migration_failing_validation_is_rolled_back(
    registry_0005: Path, app_dir: Path, observed: Observed
) -> None:
    """SQL that runs without error but leaves a foreign key violation (checks are off during
    the step) fails its validation: nothing of it, nor its ledger row, is kept."""
    before = dump(registry_0005)
    write(
        app_dir,
        "0006_dangling.sql",
        "-- migrate:up\n"
        "CREATE TABLE owners (id INTEGER PRIMARY KEY);\n"
        "CREATE TABLE pets (id INTEGER PRIMARY KEY, owner INTEGER REFERENCES owners(id));\n"
        "INSERT INTO pets VALUES (1, 42);\n",
    )
    with pytest.raises(MigrationError) as err:
        migrate(registry_0005, load_catalog(app_dir), timeout=5, app_version="t")
    assert "0006_dangling" in err.value.message
    assert "validation failed" in err.value.message and "foreign key" in err.value.message
    assert "stays at 0005_search_index" in err.value.message
    assert observed.in_transaction == [False]
    assert recorded(registry_0005) == FIXTURE_IDS
    assert dump(registry_0005) == before


def test_interrupt_inside_a_step_rolls_it_back(tmp_path: Path, observed: Observed) -> None:
    """A BaseException (Ctrl-C) raised inside a builtin step: rolled back, then re-raised."""
    registry = make_baseline_registry(tmp_path / "old" / "registry.db", rows=300)

    def progress(message: dict[str, Any]) -> None:
        if message["stage"] != "migrate":  # from inside a step, not the runner's own stage
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        migrate(registry, load_catalog(None), timeout=30, app_version="t", progress=progress)
    assert observed.in_transaction and observed.in_transaction[-1] is False
    assert observed.other_writer_could_start[-1] is True
    # 0001 (only its record) committed on its own; nothing of 0002, the interrupted step.
    assert recorded(registry) == ["0001_baseline"]
    assert "uid" not in columns(registry, "archives")
    assert query(registry, "PRAGMA integrity_check") == [("ok",)]
