"""prune answers in `backups` order with totals; `backups --last N` (issue 14, item 5)."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import pytest

from tests.inprocess import FixedClock
from zarchd.app.operations import Operations
from zarchd.core.errors import UsageError


def _take(ops: Operations, clock: FixedClock, n: int, *, change: bool = True) -> list[str]:
    """`n` backups; with `change` the registry changes between them (each its own file; an
    unchanged registry's backups are one file under several names)."""
    names = []
    for _ in range(n):
        if change:
            conn = sqlite3.connect(ops.registry, isolation_level=None)
            conn.execute(
                "INSERT INTO archives (uid, name, path, size, created) VALUES (?, ?, ?, 1, ?)",
                (f"u{len(names)}", f"a{len(names)}.7z", f"/a/{len(names)}.7z", "2026-01-01"),
            )
            conn.close()
        names.append(ops.backup()["backup"]["name"])
        clock.advance(minutes=1)
    return names


def _keep_last(ops: Operations, n: int) -> None:
    """Retention by count alone: the newest `n`."""
    ops.config = replace(
        ops.config,
        retention=replace(
            ops.config.retention,
            keep_last=n,
            keep_hourly=0,
            keep_daily=0,
            keep_weekly=0,
            keep_monthly=0,
            keep_yearly=0,
        ),
    )


def test_prune_lists_oldest_first_with_sizes_and_totals(ops: Operations, clock: FixedClock) -> None:
    names = _take(ops, clock, 4)
    _keep_last(ops, 2)
    plan = ops.prune(dry_run=True)
    assert [d["name"] for d in plan["decisions"]] == names  # as `backups` lists them
    assert [d["keep"] for d in plan["decisions"]] == [False, False, True, True]
    sizes = {b["name"]: b["size_bytes"] for b in ops.backups()["backups"]}
    assert plan["kept"] == 2 and plan["freed_bytes"] == sizes[names[0]] + sizes[names[1]] > 0
    assert all(d.get("created_at", "").endswith("Z") for d in plan["decisions"])
    done = ops.prune()
    assert done["deleted"] == names[:2] and done["freed_bytes"] == plan["freed_bytes"]
    assert [b["name"] for b in ops.backups()["backups"]] == names[2:]


def test_backups_last_n_keeps_the_newest(ops: Operations, clock: FixedClock) -> None:
    names = _take(ops, clock, 3)
    assert [b["name"] for b in ops.backups(last=2)["backups"]] == names[1:]
    assert [b["name"] for b in ops.backups(last=10)["backups"]] == names
    with pytest.raises(UsageError, match="--last 0"):
        ops.backups(last=0)


def test_deleting_some_names_of_identical_backups_frees_nothing(
    ops: Operations, clock: FixedClock
) -> None:
    names = _take(ops, clock, 3, change=False)  # one file, three names (hard links)
    _keep_last(ops, 1)
    plan = ops.prune(dry_run=True)
    assert [d["keep"] for d in plan["decisions"]] == [False, False, True]
    assert plan["freed_bytes"] == 0  # the kept name still holds the file
    assert [d["name"] for d in plan["decisions"]] == names


def test_verify_of_one_name_judges_every_name_of_the_same_file(
    ops: Operations, clock: FixedClock
) -> None:
    """Identical backups are one file: a bad byte found through one name is bad under all, so
    prune never keeps another name of it as the newest verified (review 2, 2026-11-29)."""
    import os

    from tests.conftest import tamper

    names = _take(ops, clock, 3, change=False)
    path = ops.store.location(names[0])
    os.chmod(path, 0o600)
    tamper(path)
    result = ops.verify(names[1])
    assert sorted(result["bad"]) == sorted(names)
    assert [b["verified"] for b in ops.backups()["backups"]] == [False, False, False]


def test_status_counts_a_file_under_several_names_once(ops: Operations, clock: FixedClock) -> None:
    from zarchd.app.status import backups_report

    names = _take(ops, clock, 3, change=False)
    size = ops.store.location(names[0]).stat().st_size
    report = backups_report(ops, None)
    assert report["count"] == 3 and report["total_bytes"] == size


def test_a_refused_job_says_why_in_the_log() -> None:
    from zarchd.app.joblog import summary

    line = summary({"job": "restore", "ok": False, "refused": "no remote named 'x'"})
    assert line.endswith("no remote named 'x'")
