"""take_backup in two halves (begin_backup, CopiedBackup.finish), and the finish in a thread of
its own: what a migration overlaps with its first step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zarchd.backups import begin_backup, finish_in_background, list_backups
from zarchd.core.errors import IntegrityFailure

from .conftest import FixedClock, add_row, corrupt, make_registry, max_id


def _entries(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


def test_the_copy_holds_the_registry_as_it_was_when_begun(
    tmp_path: Path, clock: FixedClock
) -> None:
    reg = make_registry(tmp_path / "registry.db", 300)
    store = tmp_path / "backups"
    copied = begin_backup(reg, store, now=clock, reason="pre-migrate")
    add_row(reg)  # a change after the copy (a migration's step) is not in the backup
    info = finish_in_background(copied).result()
    assert max_id(info.path) == 300 and max_id(reg) == 301
    meta = json.loads((store / (info.name + ".json")).read_text())
    assert meta["reason"] == "pre-migrate" and meta["verified"] is True
    assert meta["check"] == "integrity"  # the first backup of the store gets the full check
    assert [b.name for b in list_backups(reg, store)] == [info.name]


def test_a_discarded_copy_leaves_nothing(tmp_path: Path, clock: FixedClock) -> None:
    reg = make_registry(tmp_path / "registry.db", 50)
    store = tmp_path / "backups"
    copied = begin_backup(reg, store, now=clock)
    assert len(_entries(store)) == 1  # the temp copy
    copied.discard()
    assert _entries(store) == []


def test_a_damaged_copy_fails_in_the_waiting_thread_and_is_not_published(
    tmp_path: Path, clock: FixedClock
) -> None:
    reg = make_registry(tmp_path / "registry.db", 300)
    corrupt(reg)
    store = tmp_path / "backups"
    future = finish_in_background(begin_backup(reg, store, now=clock))
    with pytest.raises(IntegrityFailure, match="no backup taken"):
        future.result()
    assert _entries(store) == []
