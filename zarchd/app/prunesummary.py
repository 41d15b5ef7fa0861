"""prune's answer: every decision in `backups` order (oldest first), with its time and size,
and the totals a person asks for (kept, deleted, space freed)."""

from __future__ import annotations

from collections.abc import Sequence

from zarchd.app.results import DecisionJson, PruneResult
from zarchd.backups.meta import BackupInfo
from zarchd.backups.retention import Decision
from zarchd.core.clock import iso


def prune_result(
    dry_run: bool, decisions: Sequence[Decision], listed: Sequence[BackupInfo], deleted: list[str]
) -> PruneResult:
    """`listed` is the listing taken before pruning (oldest first): it gives the order, each
    backup's time and size. Names it lacks (files of other users) come last, as decided."""
    position = {b.name: i for i, b in enumerate(listed)}
    by_name = {b.name: b for b in listed}
    ordered = sorted(decisions, key=lambda d: position.get(d.name, len(position)))
    rows: list[DecisionJson] = []
    for d in ordered:
        row: DecisionJson = {"name": d.name, "keep": d.keep, "reasons": list(d.reasons)}
        info = by_name.get(d.name)
        if info is not None:
            row["created_at"] = iso(info.created_at)
            row["size_bytes"] = info.size_bytes
        rows.append(row)
    dropped = [r for r in rows if not r["keep"]]
    gone = set(deleted)
    return {
        "dry_run": dry_run,
        "decisions": rows,
        "deleted": [r["name"] for r in dropped if r["name"] in gone],
        "kept": len(rows) - len(dropped),
        "freed_bytes": _freed(dropped, rows, by_name),
    }


def _freed(
    dropped: list[DecisionJson], rows: list[DecisionJson], by_name: dict[str, BackupInfo]
) -> int:
    """Identical backups share one file (hard links): its space comes back only when every name
    of it goes, and it is counted once."""
    kept = {by_name[r["name"]].ident for r in rows if r["keep"] and r["name"] in by_name}
    seen: set[tuple[int, int]] = set()
    total = 0
    for r in dropped:
        ident = by_name[r["name"]].ident if r["name"] in by_name else None
        if ident is not None and (ident in kept or ident in seen):
            continue
        if ident is not None:
            seen.add(ident)
        total += r.get("size_bytes", 0)
    return total
