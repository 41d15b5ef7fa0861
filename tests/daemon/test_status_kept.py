"""`status` through the daemon answers from the report it keeps (issue 16 item 3)."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import FIXTURE_0005
from tests.inprocess import QUIET, DaemonThread, FixedClock, config_in, wait_for


def test_status_requests_do_not_rebuild_the_report(root: Path, clock: FixedClock) -> None:
    registry = root / "reg" / "registry.db"
    registry.parent.mkdir()
    shutil.copyfile(FIXTURE_0005, registry)
    cfg, path = config_in(root, registry, QUIET)
    with DaemonThread(cfg, config_path=path, now=clock) as d:
        wait_for(lambda: d.call("status")["backups"]["latest"], what="the catch-up backup")
        cache = d.daemon.status_cache
        assert cache is not None
        wait_for(lambda: d.call("status")["last_check"], what="the catch-up check")
        wait_for(cache.settled, what="the report to follow the start-up jobs")
        before = cache.refreshes
        answers = [d.call("status") for _ in range(10)]
        assert cache.refreshes == before  # ten answers, no quick_check and no listing among them
        reg = answers[-1]["registry"]
        # The time of the daemon's own quick_check (the old per-call answer was "now (...)").
        assert reg["integrity_method"] == "quick_check"
        assert reg["integrity_checked_at"].endswith("Z")
        taken = d.call("backup")  # a job refreshes before its answer: seen at once
        assert d.call("status")["backups"]["latest"]["name"] == taken["backup"]["name"]
