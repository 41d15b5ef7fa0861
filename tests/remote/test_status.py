"""A remote as status and health see it: read from the queue file, no network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from zarchd.app.remotes import remote_health, remotes_report
from zarchd.cli import render
from zarchd.core.config import Config, RegistrySection, RemoteConfig
from zarchd.remote.book import UploadBook

NOW = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)


def test_remote_status_and_health(tmp_path: Path) -> None:
    cfg = Config(
        registry=RegistrySection(tmp_path / "registry.db"),
        remotes=(
            RemoteConfig(name="fresh", target="a:"),
            RemoteConfig(name="old", target="b:", max_age=3600),
            RemoteConfig(name="broken", target="c:"),
        ),
    )
    assert remotes_report(Config(registry=cfg.registry), NOW) == []
    book = UploadBook(cfg.state_dir, cfg.backup_dir, "registry")
    hour_ago = (NOW - timedelta(hours=2)).isoformat()
    book.set_status("fresh", state="ok", newest="registry-x.bak", newest_at=NOW.isoformat())
    book.set_status(
        "old",
        state="ok",
        newest="registry-y.bak",
        newest_at=hour_ago,
        deep_check={"at": hour_ago, "name": "registry-y.bak", "ok": False, "problem": "sha256"},
    )
    book.set_status(
        "broken", state="failed", last_error={"at": hour_ago, "message": "access denied"}
    )
    book.add(["broken"], "registry-20261129-070000-zarchd.bak", "ab" * 32, NOW)
    fresh, old, broken = remotes_report(cfg, NOW)
    assert (fresh["stale"], fresh["newest_age_s"], fresh["queue"]) == (False, 0, 0)
    assert old["stale"] and old["newest_age_s"] == 7200 and old["max_age_s"] == 3600
    assert broken["queue"] == 1 and broken["stale"] and broken["newest"] is None
    reasons = remote_health([fresh, old, broken])
    assert reasons == [
        "remote old: newest copy registry-y.bak is older than allowed (0 queued)",
        "remote old: deep check of registry-y.bak failed: sha256",
        "remote broken: no complete copy yet (1 queued)",
        "remote broken: access denied",
    ]
    lines = render._remote_lines([old, broken])
    assert "TOO OLD" in lines[0] and "FAILED: sha256" in lines[1]
    assert lines[2].startswith("remote     broken (c:): failed, no copy yet, 1 queued")
    assert "access denied" in lines[3]
