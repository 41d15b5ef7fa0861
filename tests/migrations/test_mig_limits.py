"""A step's limit grows with the registry (`migrations.timeout` per 64 MiB), so a correct
migration of a large registry is never impossible, and a stuck one is still interrupted."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from zarchd.core.errors import MigrationTimeout
from zarchd.migrations import limits, load_catalog, migrate

from .conftest import FIXTURE_IDS, dump, recorded, write

SLOW_CTE = (
    "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 5000000000)"
    " SELECT count(*) FROM r;\n"
)


def test_the_limit_is_the_timeout_per_unit_of_registry() -> None:
    assert limits.step_limit(30, 0) == 30
    assert limits.step_limit(30, limits.UNIT_BYTES // 2) == 30  # never below the timeout
    assert limits.step_limit(30, 4 * limits.UNIT_BYTES) == 120
    assert limits.describe(30, 30) == "30s"
    assert "per 64 MiB" in limits.describe(120, 30)


def test_a_large_registry_outgrowing_the_timeout_still_migrates(
    baseline_registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression (issue 16): a fixed limit made a 1M-row registry unmigratable with the
    defaults. Here the unit is shrunk so 2,000 rows count as a huge registry: 0002 runs far past
    the 1 ms timeout and finishes (with a fixed 1 ms limit it was interrupted)."""
    monkeypatch.setattr(limits, "UNIT_BYTES", 64)  # ~300 KB registry: a limit of ~5,000 ms
    result = migrate(baseline_registry, load_catalog(None), timeout=0.001, app_version="t")
    assert [a["id"] for a in result.applied] == FIXTURE_IDS
    assert max(a["duration_s"] for a in result.applied) > 0.001  # longer than the timeout


def test_a_stuck_step_on_a_large_registry_is_still_interrupted(
    registry_0005: Path, app_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "UNIT_BYTES", registry_0005.stat().st_size // 3)
    before = dump(registry_0005)
    write(app_dir, "0006_stuck.sql", "-- migrate:up\nCREATE TABLE marker (x);\n" + SLOW_CTE)
    started = time.monotonic()
    with pytest.raises(MigrationTimeout) as err:
        migrate(registry_0005, load_catalog(app_dir), timeout=0.1, app_version="t")
    took = time.monotonic() - started
    assert 0.29 <= took < 5  # about 3 x 0.1 s: scaled, and still bounded
    assert "0006_stuck" in err.value.message
    assert "migrations.timeout 0.1s per 64 MiB" in err.value.message
    assert dump(registry_0005) == before
    assert recorded(registry_0005) == FIXTURE_IDS


def test_a_step_that_only_creates_tables_checks_only_those(baseline_registry: Path) -> None:
    """0004 and 0005 create new, empty tables: their validation checks those tables, not the
    whole registry (a full quick_check was 1.3 s per step at 1M rows); 0001-0003 change
    archives and check everything."""
    import sqlite3

    from zarchd.migrations.transaction import run_step

    catalog = load_catalog(None)
    conn = sqlite3.connect(baseline_registry, isolation_level=None)
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        checks: dict[str, list[str]] = {}
        for migration in catalog:
            seen.clear()
            run_step(
                conn,
                migration,
                up=True,
                timeout=30,
                app_version="t",
                progress=lambda _e: None,
                version_before=None,
            )
            checks[migration.id] = [s for s in seen if s.startswith("PRAGMA") and "_check" in s]
    finally:
        conn.close()
    assert checks["0004_query_system"] == [
        'PRAGMA foreign_key_check("queries")',
        'PRAGMA quick_check("queries")',
    ]
    assert checks["0005_search_index"] == [
        'PRAGMA foreign_key_check("search_index")',
        'PRAGMA quick_check("search_index")',
    ]
    assert checks["0002_identity_and_status"] == [
        "PRAGMA foreign_key_check",
        "PRAGMA quick_check(5)",
    ]
