"""migrate and rollback report one stage counted in migrations, naming the one that runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import make_baseline_registry
from zarchd.migrations import load_catalog, migrate, rollback


def runner_events(events: list[dict[str, Any]], stage: str) -> list[tuple[str, int, str]]:
    return [(e["phase"], e["done"], e["of"]) for e in events if e.get("stage") == stage]


def test_migrate_and_rollback_count_migrations(tmp_path: Path) -> None:
    registry = make_baseline_registry(tmp_path / "registry.db", rows=50)
    catalog = load_catalog(None)
    events: list[dict[str, Any]] = []
    migrate(registry, catalog, timeout=30, app_version="t", progress=events.append)
    ids = [m.id for m in catalog]
    assert runner_events(events, "migrate") == [
        ("start", 0, ids[0]),
        *[("update", i, ids[i]) for i in range(1, len(ids))],
        ("end", len(ids), ids[-1]),
    ]
    assert {
        (e["unit"], e["total"]) for e in events if e.get("stage") == "migrate" and "phase" in e
    } == {("migrations", len(ids))}
    events.clear()
    rollback(registry, catalog, ids[-3], timeout=30, progress=events.append)
    assert runner_events(events, "rollback") == [
        ("start", 0, ids[-1]),
        ("update", 1, ids[-2]),
        ("end", 2, ids[-2]),
    ]
