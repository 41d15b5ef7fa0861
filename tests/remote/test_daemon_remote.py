"""The daemon's remote side, in process: a backup is queued for the remote and sent; while the
remote is unreachable it waits in the queue (status and health say so) and goes out once the
remote is back, after a daemon restart."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.inprocess import QUIET, DaemonThread, FixedClock, config_in, iter_short_dir, wait_for
from tests.remote import servers
from zarchd.cli import render
from zarchd.remote.target import RemoteTarget


@pytest.fixture
def root() -> Iterator[Path]:
    yield from iter_short_dir()


def test_unreachable_remote_queues_then_catches_up_after_a_restart(
    root: Path,
    sftp_remote: servers.LoopbackRemote,
    webdav_remote: servers.LoopbackRemote,
    rclone_conf: Path,
) -> None:
    registry = root / "registry.db"
    con = sqlite3.connect(registry)
    con.execute("CREATE TABLE archives (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("INSERT INTO archives (name) VALUES ('a')")
    con.commit()
    con.close()
    down_conf = root / "down.conf"
    down_conf.write_text(
        rclone_conf.read_text().replace(f"port = {sftp_remote.options['port']}", "port = 1")
    )
    remote = (
        f'[[remote]]\nname = "{sftp_remote.name}"\ntarget = "{sftp_remote.target}"\n'
        f'prefix = "daemon-{root.name}/"\n'
    )
    cfg, path = config_in(root, registry, QUIET + remote + f'rclone_config = "{down_conf}"\n')
    clock = FixedClock()
    with DaemonThread(cfg, config_path=path, now=clock) as d:  # catch-up backup at start

        def queued_and_failed() -> bool:
            (r,) = d.call("status")["remotes"]
            return r["queue"] == 1 and r["state"] == "retrying"

        wait_for(queued_and_failed, 30, what="the upload to fail and stay queued")
        report = d.call("status")
        (r,) = report["remotes"]
        assert "connection refused" in r["last_error"]["message"] and r["stale"]
        text = render.status(report)
        assert (
            f"remote     {sftp_remote.name} ({sftp_remote.target}): retrying, no copy yet" in text
        )
        assert "connection refused" in text
        reasons = d.call("health")["reasons"]
        assert any(f"remote {sftp_remote.name}: no complete copy yet" in x for x in reasons)
    cfg, path = config_in(root, registry, QUIET + remote + f'rclone_config = "{rclone_conf}"\n')
    target = RemoteTarget(cfg.remotes[0], None, "registry")
    with DaemonThread(cfg, config_path=path, now=clock) as d:
        wait_for(lambda: d.call("status")["remotes"][0]["state"] == "ok", 30, what="the upload")
        (r,) = d.call("status")["remotes"]
        assert r["queue"] == 0
        # a remote added by a reload gets the newest backup at once
        added = (
            f'[[remote]]\nname = "{webdav_remote.name}"\ntarget = "{webdav_remote.target}"\n'
            f'prefix = "daemon-{root.name}/"\nrclone_config = "{rclone_conf}"\n'
        )
        path.write_text(path.read_text() + added)
        assert d.call("reload")["reloaded"] is True
        wait_for(
            lambda: [x["state"] for x in d.call("status")["remotes"]] == ["ok", "ok"],
            30,
            what="the upload to the remote added by reload",
        )
    local = sorted(p.name for p in root.glob("registry-*-zarchd.bak"))
    assert [c.name for c in target.list() if c.complete] == local[-1:]
