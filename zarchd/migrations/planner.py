"""The catalog: built-ins plus application files, ordered by their dependencies (a DAG, ties
broken by id). Any inconsistency is a PlanError before anything runs."""

from __future__ import annotations

import heapq
from pathlib import Path

from zarchd.core.errors import PlanError
from zarchd.migrations.builtins import BUILTINS
from zarchd.migrations.loader import load_dir
from zarchd.migrations.model import BUILTIN, Migration
from zarchd.migrations.sqltext import checksum


def builtin_migrations() -> list[Migration]:
    migrations = []
    previous: tuple[str, ...] = ()
    for b in BUILTINS:
        definition = f"{b.id}\n{b.name}\n{b.up_sql}\n-- migrate:down\n{b.down_sql or ''}"
        migrations.append(
            Migration(
                id=b.id,
                name=b.name,
                depends=previous,
                source=BUILTIN,
                checksum=checksum(definition),
                up_sql=b.up_sql,
                down_sql=b.down_sql,
            )
        )
        previous = (b.id,)
    return migrations


def load_catalog(app_dir: Path | None) -> list[Migration]:
    """Built-ins 0001-0005 and the SQL files of `app_dir`, in an order that respects `depends`."""
    migrations = builtin_migrations()
    if app_dir is not None:
        migrations += load_dir(Path(app_dir))
    return order(migrations)


def order(migrations: list[Migration]) -> list[Migration]:
    by_id: dict[str, Migration] = {}
    for m in migrations:
        if m.id in by_id:
            raise PlanError(
                f"migration id {m.id} is defined twice ({by_id[m.id].source} and {m.source})"
            )
        by_id[m.id] = m
    missing = [
        f"{m.source if not m.builtin else m.id} depends on {dep}, which does not exist"
        for m in migrations
        for dep in m.depends
        if dep not in by_id
    ]
    if missing:
        raise PlanError("missing migration dependency: " + "; ".join(missing))

    waiting = {m.id: set(m.depends) for m in migrations}
    dependants: dict[str, list[str]] = {m.id: [] for m in migrations}
    for m in migrations:
        for dep in m.depends:
            dependants[dep].append(m.id)
    ready = [mid for mid, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    ordered: list[Migration] = []
    while ready:
        mid = heapq.heappop(ready)
        ordered.append(by_id[mid])
        for child in dependants[mid]:
            waiting[child].discard(mid)
            if not waiting[child]:
                heapq.heappush(ready, child)
    if len(ordered) < len(migrations):
        stuck = sorted(mid for mid, deps in waiting.items() if deps)
        sources = ", ".join(f"{mid} ({by_id[mid].source})" for mid in stuck)
        raise PlanError(f"cyclic migration dependencies among: {sources}")
    return ordered
