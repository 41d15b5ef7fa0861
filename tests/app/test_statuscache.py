"""The daemon's kept status report (issue 16 item 3): cheap to ask, never stale unsaid."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from tests.app.conftest import make_ops
from tests.backups.conftest import corrupt, make_registry
from tests.inprocess import FixedClock, wait_for
from zarchd.app.operations import Operations
from zarchd.app.statuscache import StatusCache

DAEMON: Any = {"running": True, "pid": 1}


def _ops_on_items_registry(tmp_path: Path, clock: FixedClock) -> Operations:
    return make_ops(tmp_path, clock, registry=make_registry(tmp_path / "reg" / "registry.db"))


def test_requests_answer_from_the_kept_report_with_the_age_of_its_check(
    ops: Operations, clock: FixedClock
) -> None:
    cache = StatusCache(ops)
    cache.refresh()
    checked = ops.now()
    clock.advance(seconds=30)
    for _ in range(5):
        report = cache.report(DAEMON, "2026-03-14T13:00:00Z")
    assert cache.refreshes == 1  # five answers, one build: no registry read, no sidecar read
    reg = report["registry"]
    assert reg["integrity"] == "ok" and reg["integrity_stale"] is False
    assert reg["integrity_method"] == "quick_check"
    assert reg["integrity_checked_at"] == checked.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert reg["integrity_age_s"] == 30.0  # the age of the daemon's quick_check, not "now"
    assert report["daemon"] == DAEMON and report["backups"]["next_run"] == "2026-03-14T13:00:00Z"
    assert report["backups"]["listed_at"] == reg["integrity_checked_at"]


def test_a_registry_changed_since_is_stale_until_the_refresh(
    tmp_path: Path, clock: FixedClock
) -> None:
    ops = _ops_on_items_registry(tmp_path, clock)
    cache = StatusCache(ops)
    cache.refresh()
    assert cache.report(DAEMON, None)["registry"]["integrity"] == "ok"
    corrupt(ops.registry)
    reg = cache.report(DAEMON, None)["registry"]  # at once: no longer "ok", and says why
    assert reg["integrity"] == "unknown" and reg["integrity_stale"] is True
    assert "re-checking" in reg["integrity_problems"][0]
    cache.refresh()  # what the request woke the refresher for
    reg = cache.report(DAEMON, None)["registry"]
    assert reg["integrity"] == "damaged" and reg["integrity_stale"] is False


def test_fresh_rebuilds_a_changed_registry_first(tmp_path: Path, clock: FixedClock) -> None:
    ops = _ops_on_items_registry(tmp_path, clock)
    cache = StatusCache(ops)
    cache.refresh()
    corrupt(ops.registry)
    assert cache.report(DAEMON, None, fresh=True)["registry"]["integrity"] == "damaged"
    assert cache.refreshes == 2
    cache.report(DAEMON, None, fresh=True)  # unchanged since: no rebuild
    assert cache.refreshes == 2


def test_a_job_refreshes_before_its_caller_sees_the_answer(ops: Operations) -> None:
    cache = StatusCache(ops)
    cache.refresh()
    seen: list[dict[str, Any]] = []
    ops.on_job = cache.after_job(seen.append)
    taken = ops.backup()["backup"]
    report = cache.report(DAEMON, None)
    assert report["backups"]["latest"]["name"] == taken["name"]  # type: ignore[index]
    assert [e["job"] for e in seen] == ["backup"]  # the hook that was there still runs


def test_the_refresher_thread_follows_a_change(tmp_path: Path, clock: FixedClock) -> None:
    ops = _ops_on_items_registry(tmp_path, clock)
    cache = StatusCache(ops, coalesce_s=0.0)
    cache.start()
    try:
        corrupt(ops.registry)
        cache.changed("modified")  # a watcher event
        wait_for(
            lambda: cache.report(DAEMON, None)["registry"]["integrity"] == "damaged",
            what="the refresher to re-check the changed registry",
        )
        # A backup added behind zarchd's back moves the directory: the next request wakes it.
        before = cache.refreshes
        ops.store.prepare()
        (Path(str(ops.store)) / "note.txt").write_text("x")
        cache.report(DAEMON, None)
        wait_for(lambda: cache.refreshes > before, what="a refresh after the directory moved")
    finally:
        cache.stop()
    assert not any(t.name == "zarchd-status" and t.is_alive() for t in threading.enumerate())


def test_without_a_kept_report_it_builds_one(ops: Operations) -> None:
    report = StatusCache(ops).report(DAEMON, None)  # start() never ran
    assert report["registry"]["integrity_checked_at"] == "now (quick_check)"


def test_a_change_no_event_told_is_found_by_the_periodic_look(
    tmp_path: Path, clock: FixedClock
) -> None:
    ops = _ops_on_items_registry(tmp_path, clock)
    cache = StatusCache(ops, coalesce_s=0.0, period_s=0.01)
    cache.start()
    try:
        corrupt(ops.registry)  # no changed(), no request: a lost inotify event
        wait_for(lambda: cache.settled(), what="the periodic look to rebuild the report")
    finally:
        cache.stop()
    assert cache.report(DAEMON, None)["registry"]["integrity"] == "damaged"


def test_health_sees_an_old_check_of_a_large_idle_registry(
    ops: Operations, clock: FixedClock, monkeypatch: Any
) -> None:
    """The kept report of a registry too large to quick_check per status: its check's age grows
    with the clock, so health says "unchecked" after days (review finding, 2026-11-29)."""
    import zarchd.app.status as status
    from zarchd.app.health import _registry

    monkeypatch.setattr(status, "QUICK_CHECK_LIMIT", 0)
    ops.check()
    cache = StatusCache(ops)
    cache.refresh()
    clock.advance(seconds=10 * 86400)
    kept = cache.report(DAEMON, None, fresh=True)
    assert kept["registry"]["integrity_age_s"] == 10 * 86400
    assert any("unchecked" in r for r in _registry(kept, ops.config, ops.now()))
