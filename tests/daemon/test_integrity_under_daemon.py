"""A registry damaged under a running daemon: status and health say so (issue 13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.backups.conftest import corrupt, make_registry
from tests.inprocess import QUIET, DaemonThread, FixedClock, config_in, wait_for
from zarchd.app import status as status_mod
from zarchd.core.errors import IntegrityFailure


def test_a_large_registry_damaged_under_the_daemon(
    root: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every registry counts as too large for a quick_check per status: the 300 MB case.
    monkeypatch.setattr(status_mod, "QUICK_CHECK_LIMIT", 0)
    registry = make_registry(root / "reg" / "registry.db", rows=3000)
    cfg, path = config_in(root, registry, QUIET)
    with DaemonThread(cfg, config_path=path, now=clock) as d:
        wait_for(lambda: d.call("status")["backups"]["latest"], what="the catch-up backup")
        d.call("check")
        assert d.call("status")["registry"]["integrity"] == "ok"
        assert d.call("health")["healthy"] is True
        corrupt(registry)
        reg = d.call("status")["registry"]  # at once: no longer "ok"
        assert reg["integrity"] == "unknown" and reg["integrity_stale"] is True
        # The daemon's next look at it (here a backup, whose copy fails its check) settles it.
        with pytest.raises(IntegrityFailure):
            d.call("backup")
        reg = d.call("status")["registry"]
        assert reg["integrity"] == "damaged" and reg["integrity_method"] == "backup copy check"
        health = d.call("health")
        assert health["healthy"] is False
        assert health["reasons"][0].startswith("registry damaged")
