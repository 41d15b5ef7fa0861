"""Every operation asked for through the socket leaves its start and end lines in the daemon's
log (once), and its entry in the job history that `zarchctl log` shows."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_0005
from tests.inprocess import QUIET, DaemonThread, FixedClock, config_in, wait_for
from zarchd.core.errors import ZarchError


def _registry(root: Path) -> Path:
    registry = root / "reg" / "registry.db"
    registry.parent.mkdir()
    shutil.copyfile(FIXTURE_0005, registry)
    return registry


def _lines(caplog: pytest.LogCaptureFixture, needle: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if needle in r.getMessage()]


def _catch_up_done(d: DaemonThread) -> None:
    """The start-up catch-up backup, its prune and the check have run (they would mix into the
    counts); the prune follows the backup's record, after its status refresh."""
    wait_for(
        lambda: {"backup", "prune", "check"} <= {e["job"] for e in d.call("log")["entries"]},
        what="the catch-up jobs",
    )


def test_each_operation_through_the_socket_logs_its_start_and_end_once(
    root: Path, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    cfg, path = config_in(root, _registry(root), QUIET)
    with DaemonThread(cfg, config_path=path, now=clock) as d:
        _catch_up_done(d)
        caplog.clear()
        name = d.call("backup")["backup"]["name"]
        assert _lines(caplog, "backup (manual) started") != []
        [written] = _lines(caplog, "backup (manual) written: ")
        assert name in written and "KiB" in written
        clock.advance(hours=2)
        d.call("backup")
        d.call("verify")
        assert len(_lines(caplog, "verify (manual) done: ")) == 1
        d.call("prune")
        assert len(_lines(caplog, "prune (manual) done")) == 1
        d.call("check")
        assert len(_lines(caplog, "check (manual) done: integrity check ok")) == 1
        d.call("restore", {"name": name})
        assert len(_lines(caplog, f"restore (manual) done: restored {name}")) == 1
        with pytest.raises(ZarchError):
            d.call("restore", {"name": "registry-19990101-000000.bak"})
        assert len(_lines(caplog, "restore (manual) failed after")) == 1
        d.call("pause")
        d.call("resume")
        assert len(_lines(caplog, "paused")) == 1, _lines(caplog, "paused")  # not twice
        assert len(_lines(caplog, "resumed")) == 1

        history = d.call("log", {"n": 3})["entries"]
        assert [e["job"] for e in history] == ["check", "restore", "restore"]
        assert [e["ok"] for e in history] == [True, True, False]
        assert all(e["reason"] == "manual" and "duration_s" in e for e in history)
        assert len(d.call("log")["entries"]) >= 7


def test_start_up_jobs_log_who_asked_and_the_space_pruning_freed(
    root: Path, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    cfg, path = config_in(root, _registry(root), QUIET)
    with DaemonThread(cfg, config_path=path, now=clock) as d:
        _catch_up_done(d)
        # A job's end is logged just after its record is written: wait for the line too.
        wait_for(lambda: _lines(caplog, "check (schedule) done"), what="the check's end line")
        assert len(_lines(caplog, "backup (catch-up) written: ")) == 1
        assert len(_lines(caplog, "prune (catch-up) done: nothing to delete")) == 1
        assert len(_lines(caplog, "check (schedule) done: integrity check ok")) == 1
        jobs = {e["job"]: e for e in d.call("log")["entries"]}
        assert jobs["backup"]["reason"] == jobs["prune"]["reason"] == "catch-up"
        assert isinstance(jobs["backup"]["size_bytes"], int)
        assert jobs["prune"]["freed_bytes"] == 0
