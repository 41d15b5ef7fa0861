"""The upload queue and a remote's worker against the loopback servers: queued backups are sent
once, an unreachable remote queues and catches up (also with a new worker: a daemon restart),
remote retention, the deep check catching a corrupted copy."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.inprocess import FixedClock
from tests.remote import servers
from tests.remote.conftest import remote_config
from tests.remote.test_target import NAME, make_backup, plant
from zarchd.app.remotes import remote_health, remotes_report
from zarchd.backups.take import take_backup
from zarchd.core.config import Config, RegistrySection, RemoteConfig, RetentionPolicy
from zarchd.remote.book import BACKOFF_CAP_S, UploadBook, backoff
from zarchd.remote.rclone import Rclone
from zarchd.remote.target import RemoteTarget
from zarchd.remote.worker import RemoteWorker

START = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)


def registry(tmp_path: Path) -> Path:
    path = tmp_path / "reg" / "registry.db"
    path.parent.mkdir()
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE archives (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("INSERT INTO archives (name) VALUES ('a')")
    con.commit()
    con.close()
    return path


def setup(
    tmp_path: Path, remote: RemoteConfig, policy: RetentionPolicy | None = None
) -> tuple[Path, UploadBook, RemoteWorker, FixedClock]:
    reg = registry(tmp_path)
    clock = FixedClock(START)
    book = UploadBook(_cfg(tmp_path, remote).state_dir, reg.parent, "registry", rand=lambda: 0.5)
    target = RemoteTarget(remote, "laptop", "registry")
    worker = RemoteWorker(remote, target, book, policy or RetentionPolicy(), UTC, clock)
    return reg, book, worker, clock


def backup(reg: Path, clock: FixedClock, book: UploadBook, remote: str) -> str:
    """A change to the registry, then a backup of it, queued for `remote`."""
    con = sqlite3.connect(reg)
    con.execute("INSERT INTO archives (name) VALUES ('x')")
    con.commit()
    con.close()
    info = take_backup(reg, reg.parent, now=clock)
    assert info.sha256 is not None
    book.add([remote], info.name, info.sha256, clock())
    return info.name


def test_queued_backup_is_sent_once_and_the_queue_empties(
    sftp_remote: servers.LoopbackRemote, rclone_conf: Path, tmp_path: Path
) -> None:
    remote = remote_config(sftp_remote, rclone_conf)
    reg, book, worker, clock = setup(tmp_path, remote)
    name = backup(reg, clock, book, remote.name)
    assert worker.drain() == 1
    assert book.entries() == []
    assert [(c.name, c.complete) for c in worker.target.list()] == [(name, True)]
    # queued again (a restart before the queue file was written): found there, not sent again
    assert sftp_remote.root is not None
    stored = sftp_remote.root / worker.target.prefix / name
    before = stored.stat().st_mtime_ns
    book.add([remote.name], name, worker.target.list()[0].sha256 or "", clock())
    assert worker.drain() == 1 and stored.stat().st_mtime_ns == before
    assert book.status(remote.name)["state"] == "ok"
    # an identical backup under a new name (a hard link locally) is a backup there too:
    # restore --from NAME finds it, and the remote's newest moves on (review 2, 2026-11-29)
    clock.advance(seconds=5)
    same = take_backup(reg, reg.parent, now=clock)
    assert same.sha256 == worker.target.list()[0].sha256 and same.name != name
    book.add([remote.name], same.name, same.sha256 or "", clock())
    assert worker.drain() == 1
    assert [(c.name, c.complete) for c in worker.target.list()] == [(name, True), (same.name, True)]
    newest = worker.record_newest()
    assert newest is not None and newest.name == same.name


def test_unreachable_remote_queues_and_catches_up_after_a_restart(
    sftp_remote: servers.LoopbackRemote, rclone_conf: Path, tmp_path: Path
) -> None:
    good = remote_config(sftp_remote, rclone_conf)
    # the same remote, unreachable: a port nothing listens on
    down_conf = tmp_path / "down.conf"
    down_conf.write_text(
        rclone_conf.read_text().replace(f"port = {sftp_remote.options['port']}", "port = 1")
    )
    down = replace(good, rclone_config=down_conf)
    reg, book, worker, clock = setup(tmp_path, down)
    first = backup(reg, clock, book, down.name)
    assert worker.drain() == 0
    (entry,) = book.entries()
    assert (
        entry.attempts == 1
        and entry.kind == "temporary"
        and "connection refused" in entry.last_error
    )
    status = book.status(down.name)
    assert status["state"] == "retrying" and "connection refused" in status["last_error"]["message"]
    assert book.due(down.name, clock()) is None  # backing off: 30 s x jitter
    clock.advance(seconds=31)
    assert worker.drain() == 0 and book.entries()[0].attempts == 2
    # the daemon restarts (a new book and worker over the same state dir) with the remote back
    book2 = UploadBook(book.path.parent, reg.parent, "registry", rand=lambda: 0.5)
    worker2 = RemoteWorker(
        good, RemoteTarget(good, "laptop", "registry"), book2, RetentionPolicy(), UTC, clock
    )
    assert worker2.drain() == 0  # still backing off: nothing is due yet
    clock.advance(minutes=2)
    assert worker2.drain() == 1
    assert [c.name for c in worker2.target.list() if c.complete] == [first]
    assert book2.entries() == [] and book2.status(good.name)["state"] == "ok"


def test_backoff_doubles_with_jitter_up_to_a_cap() -> None:
    assert backoff(1, lambda: 0.5) == 30 and backoff(3, lambda: 0.5) == 120
    assert backoff(2, lambda: 0.0) == 30 and backoff(2, lambda: 1.0) == 90
    assert backoff(40, lambda: 1.0) == BACKOFF_CAP_S


def test_remote_retention_keeps_the_policy_and_delete_false_keeps_all(
    webdav_remote: servers.LoopbackRemote, rclone_conf: Path, tmp_path: Path
) -> None:
    remote = remote_config(webdav_remote, rclone_conf)
    policy = RetentionPolicy(
        keep_last=2, keep_hourly=0, keep_daily=0, keep_weekly=0, keep_monthly=0, keep_yearly=0
    )
    _reg, book, worker, clock = setup(tmp_path, remote, policy)
    assert webdav_remote.root is not None
    where = webdav_remote.root / worker.target.prefix
    made = []
    for hour in (7, 8, 9):  # three complete copies, as uploads leave them (planted: fewer calls)
        name = f"registry-20261129-0{hour}0000-zarchd.bak"
        local, meta = make_backup(tmp_path, name)
        meta["created_at"] = f"2026-11-29T0{hour}:00:00+00:00"
        plant(where, local, meta)
        made.append(name)
    (where / "registry-20261129-060000-zarchd.bak").write_bytes(b"half")  # no sidecar
    frozen = replace(remote, delete=False)
    keep_all = RemoteWorker(
        frozen, RemoteTarget(frozen, "laptop", "registry"), book, policy, UTC, clock
    )
    assert keep_all.prune() == []
    assert worker.prune() == [made[0]]
    # an incomplete copy takes part in no rule: retention leaves it (cleanup is for temps)
    assert sorted(p.name for p in where.iterdir() if not p.name.endswith(".json")) == [
        "registry-20261129-060000-zarchd.bak",
        *made[1:],
    ]
    assert book.status(remote.name)["newest"] == made[2]


def test_deep_check_catches_a_corrupted_remote_copy(
    sftp_remote: servers.LoopbackRemote, rclone_conf: Path, tmp_path: Path
) -> None:
    remote = remote_config(sftp_remote, rclone_conf)
    _reg, book, worker, clock = setup(tmp_path, remote)
    assert sftp_remote.root is not None
    where = sftp_remote.root / worker.target.prefix
    local, meta = make_backup(tmp_path)
    plant(where, local, meta)
    assert worker.deep_due()
    result = worker.deep_check()
    assert result is not None and result.ok and result.name == NAME
    assert not worker.deep_due()
    clock.advance(days=7)
    assert worker.deep_due()
    data = bytearray((where / NAME).read_bytes())
    data[len(data) // 2] ^= 0xFF  # bit rot on the server, same size
    (where / NAME).write_bytes(bytes(data))
    result = worker.deep_check()
    assert result is not None and not result.ok and "sha256" in result.problem
    assert book.status(remote.name)["deep_check"]["ok"] is False
    reasons = remote_health(remotes_report(_cfg(tmp_path, remote), clock()))
    assert f"remote {remote.name}: deep check of {NAME} failed" in " ".join(reasons)
    # a rotted copy is no verified copy: not the newest to keep, not the newest status names
    assert worker.failed_deep() == {NAME} and worker.record_newest() is None
    (where / NAME).write_bytes(local.read_bytes())  # put right: the next deep check clears it
    clock.advance(days=7)
    result = worker.deep_check()
    assert result is not None and result.ok and worker.failed_deep() == set()
    newest = worker.record_newest()
    assert newest is not None and newest.name == NAME


def _cfg(tmp_path: Path, remote: RemoteConfig) -> Config:
    return Config(registry=RegistrySection(tmp_path / "reg" / "registry.db"), remotes=(remote,))


def test_a_planted_queue_file_is_not_trusted(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(
        '{"queue": [{"remote": "r", "name": "registry-20261129-070000-zarchd.bak",'
        ' "sha256": "x", "queued_at": ""}]}'
    )
    os.symlink(elsewhere, state / "remote.json")
    book = UploadBook(state, tmp_path, "registry")
    assert book.entries() == []  # never read through a symlink
    (state / "remote.json").unlink()
    (state / "remote.json").write_text(
        '{"queue": [{"remote": "r", "name": "../../etc/passwd", "sha256": "x", "queued_at": ""},'
        ' {"remote": "r", "name": "registry-20261129-070000-zarchd.bak", "sha256": "x",'
        ' "queued_at": ""}]}'
    )
    assert [e.name for e in book.entries()] == ["registry-20261129-070000-zarchd.bak"]
    assert book.local_path(book.entries()[0]) == tmp_path / "registry-20261129-070000-zarchd.bak"
    _ = timedelta


def test_a_fatal_failure_is_shown_as_such_and_waits_the_longest(tmp_path: Path) -> None:
    """No rclone program (the same path as bad credentials: exit 7): state "failed", health says
    it, and the next try is only after the backoff cap, not in 30 s."""
    remote = RemoteConfig(name="nowhere", target="nowhere:")
    reg, book, _worker, clock = setup(tmp_path, remote)
    rclone = Rclone(remote, binary=str(tmp_path / "no-rclone"))
    target = RemoteTarget(remote, "laptop", "registry", rclone=rclone)
    worker = RemoteWorker(remote, target, book, RetentionPolicy(), UTC, clock)
    backup(reg, clock, book, remote.name)
    assert worker.drain() == 0
    (entry,) = book.entries()
    assert entry.kind == "missing" and "not found on PATH" in entry.last_error
    assert book.next_due(remote.name) == clock() + timedelta(seconds=BACKOFF_CAP_S)
    (report,) = remotes_report(_cfg(tmp_path, remote), clock())
    assert report["state"] == "failed" and report["queue"] == 1
    assert any("not found on PATH" in r for r in remote_health([report]))
