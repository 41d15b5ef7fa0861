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
    ordered, by_name = in_listing_order(decisions, listed)
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
        "freed_bytes": freed(ordered, by_name),
    }


def in_listing_order(
    decisions: Sequence[Decision], listed: Sequence[BackupInfo]
) -> tuple[list[Decision], dict[str, BackupInfo]]:
    """The decisions in `listed`'s order (names it lacks last, as decided), and each listed
    backup by name."""
    position = {b.name: i for i, b in enumerate(listed)}
    ordered = sorted(decisions, key=lambda d: position.get(d.name, len(position)))
    return ordered, {b.name: b for b in listed}


def freed(decisions: Sequence[Decision], by_name: dict[str, BackupInfo]) -> int:
    """The bytes the dropped backups free. Identical backups share one file (hard links): its
    space comes back only when every name of it goes, and it is counted once."""
    kept = {by_name[d.name].ident for d in decisions if d.keep and d.name in by_name}
    seen: set[tuple[int, int]] = set()
    total = 0
    for d in decisions:
        if d.keep:
            continue
        info = by_name.get(d.name)
        if info is None:  # not listed (a file of another user): nothing to count
            continue
        ident = info.ident
        if ident is not None and (ident in kept or ident in seen):
            continue
        if ident is not None:
            seen.add(ident)
        total += info.size_bytes
    return total
