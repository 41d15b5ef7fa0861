"""restore latest / --before / --to through Operations with a clock (issue 14, item 3)."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from tests.inprocess import FixedClock
from zarchd.app.operations import Operations
from zarchd.core.clock import iso
from zarchd.core.errors import NotFound, UsageError


def test_before_picks_the_newest_taken_before_the_moment(
    ops: Operations, clock: FixedClock, tmp_path: Path
) -> None:
    start = clock.now
    names = []
    for _ in range(3):
        names.append(ops.backup()["backup"]["name"])
        clock.advance(hours=1)
    out = tmp_path / "out"
    out.mkdir()
    got = ops.restore(before=iso(start + timedelta(minutes=90)), to=str(out))
    assert got["restored"] == names[1] and Path(got["to"]) == out / names[1]
    got = ops.restore("latest", to=str(out / "latest.db"))
    assert got["restored"] == names[2]
    assert sqlite3.connect(out / "latest.db").execute("PRAGMA integrity_check").fetchone() == (
        "ok",
    )
    with pytest.raises(NotFound, match="taken before"):
        ops.restore(before=iso(start), to=str(out / "none.db"))  # strictly before the first
    with pytest.raises(UsageError, match="absolute"):
        ops.restore("latest", to="relative.db")
    with pytest.raises(UsageError, match="ISO 8601"):
        ops.restore(before="2h", to=str(out / "x.db"))  # the CLI sends an exact moment
    history = ops.state.get("history") or []
    assert [e["job"] for e in history] == ["backup"] * 3  # a copy elsewhere is no job


def test_latest_without_backups_says_so(ops: Operations, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no backups"):
        ops.restore("latest", to=str(tmp_path / "x.db"))


def test_to_a_missing_directory_or_over_a_directory_is_refused(
    ops: Operations, tmp_path: Path
) -> None:
    name = ops.backup()["backup"]["name"]
    with pytest.raises(UsageError, match="does not exist"):
        ops.restore(name, to=str(tmp_path / "nowhere" / "x.db"))
    out = tmp_path / "out"
    (out / name).mkdir(parents=True)  # PATH/NAME is taken by a directory
    with pytest.raises(UsageError, match="is a directory"):
        ops.restore(name, to=str(out), force=True)
    assert sorted(p.name for p in out.iterdir()) == [name] and (out / name).is_dir()
