"""The stages restore and recover report: named, in order, and never backwards within one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zarchd.backups import recover_registry, restore_backup, take_backup

from .conftest import FixedClock, corrupt, make_registry


def stages(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(stage, of) of every stage started, in order; checks each one's counts go forward."""
    last: dict[str, int] = {}
    started = []
    for e in events:
        if e["phase"] == "start":
            started.append((e["stage"], e.get("of", "")))
            last[e["stage"]] = e["done"]
        assert e["done"] >= last[e["stage"]], e  # never backwards within a stage
        last[e["stage"]] = e["done"]
        if e["phase"] == "end" and e["total"] is not None:
            assert e["done"] == e["total"], e
    return started


def test_restore_reports_verify_safety_backup_and_replace_stages(
    tmp_path: Path, clock: FixedClock
) -> None:
    reg = make_registry(tmp_path / "registry.db", 3000)
    old = take_backup(reg, tmp_path / "b", now=clock)
    clock.advance(hours=1)
    events: list[dict[str, Any]] = []
    restore_backup(reg, tmp_path / "b", old.name, now=clock, progress=events.append)
    assert stages(events) == [
        ("hash", old.name),  # the backup verified first
        ("check", old.name),
        ("copy", ""),  # the safety backup of the registry as it was
        ("check", ""),
        ("replace", old.name),  # the backup copied into the live registry, page by page
    ]
    replace = [e for e in events if e["stage"] == "replace"]
    assert replace[-1]["done"] == replace[-1]["total"] >= old.size_bytes // 2
    assert all(e["unit"] == "bytes" for e in events)


def test_recover_reports_the_backup_it_checks_copies_and_swaps_in(
    tmp_path: Path, clock: FixedClock
) -> None:
    reg = make_registry(tmp_path / "registry.db", 500)
    good = take_backup(reg, tmp_path / "b", now=clock)
    corrupt(reg)
    events: list[dict[str, Any]] = []
    result = recover_registry(reg, tmp_path / "b", now=clock, progress=events.append)
    assert result["restored"] == good.name
    assert stages(events) == [
        ("hash", good.name),
        ("check", good.name),
        ("copy", good.name),
        ("swap", ""),
    ]
