"""The daemon in a thread of the test process: started, asked over its real socket with the real
client, stopped with request_stop(). What only a real process shows stays in tests/e2e."""

from __future__ import annotations

import shutil
import signal
import threading
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_0005
from tests.inprocess import QUIET, DaemonThread, FixedClock, config_in, wait_for
from zarchd.core.errors import DaemonNotRunning, LockHeld, UsageError, ZarchError
from zarchd.db.lock import WriterLock


def _registry(root: Path) -> Path:
    registry = root / "reg" / "registry.db"
    registry.parent.mkdir()
    shutil.copyfile(FIXTURE_0005, registry)
    return registry


def test_a_daemon_in_a_thread_answers_and_stops(root: Path, clock: FixedClock) -> None:
    cfg, path = config_in(root, _registry(root), QUIET)
    with DaemonThread(cfg, config_path=path, now=clock) as d:
        assert d.call("ping")["pong"] is True
        status = d.call("status")
        assert status["daemon"]["running"] is True and status["daemon"]["paused"] is False
        assert status["registry"]["integrity"] == "ok"
        assert status["backups"]["next_run"] is not None
    assert d.code == 0
    assert not cfg.socket_path.exists()  # the socket went with the daemon
    with pytest.raises(DaemonNotRunning):
        d.call("ping")


def test_every_command_goes_through_the_socket(root: Path, clock: FixedClock) -> None:
    cfg, path = config_in(root, _registry(root), QUIET)
    with DaemonThread(cfg, config_path=path, now=clock) as d:
        events: list[dict[str, object]] = []
        taken = d.call("backup", on_progress=events.append)["backup"]
        assert taken["verified"] is True and events
        # The stage reports cross the socket as they were sent.
        starts = [e["stage"] for e in events if e.get("phase") == "start"]
        assert starts == ["copy", "check"]
        listed = d.call("backups")["backups"]
        assert taken["name"] in [b["name"] for b in listed]
        clock.advance(hours=2)
        second = d.call("backup")["backup"]["name"]
        assert d.call("verify", {"name": second})["bad"] == []
        assert d.call("verify")["bad"] == []
        decisions = d.call("prune", {"dry_run": True})["decisions"]
        assert {x["name"] for x in decisions} >= {taken["name"], second}
        assert d.call("prune")["dry_run"] is False
        assert d.call("check")["ok"] is True
        assert d.call("migrate", {"dry_run": True})["pending"] == []
        assert d.call("migrate")["applied"] == []
        assert d.call("repair", {"dry_run": True})["dry_run"] is True
        restored = d.call("restore", {"name": taken["name"]})
        assert restored["restored"] == taken["name"]
        with pytest.raises(ZarchError):
            d.call("restore", {"name": "registry-19990101-000000.bak"})
        with pytest.raises(UsageError):
            d.call("recover")  # the registry is sound: nothing to recover
        assert "lost" not in d.call("status")["daemon"]


def test_pause_resume_and_the_status_line(root: Path, clock: FixedClock) -> None:
    cfg, path = config_in(root, _registry(root), QUIET)
    with DaemonThread(cfg, config_path=path, now=clock) as d:
        daemon = d.daemon
        d.call("backup")
        assert daemon._status_line().startswith("last backup 0s ago")  # the fixed clock
        assert d.call("pause")["paused"] is True
        assert d.call("status")["daemon"]["paused"] is True
        assert daemon._status_line().endswith("(paused)")
        daemon.run_backup("test")  # a scheduled run while paused still runs when called
        assert d.call("resume")["paused"] is False
        assert not daemon._status_line().endswith("(paused)")


def test_reload_takes_a_good_config_and_refuses_a_bad_one(root: Path, clock: FixedClock) -> None:
    registry = _registry(root)
    cfg, path = config_in(root, registry, QUIET)
    with DaemonThread(cfg, config_path=path, now=clock) as d:
        text = path.read_text()
        assert d.call("status")["retention"]["keep_last"] != 2
        path.write_text(
            text.replace('interval = "1h"', 'interval = "2h"') + "[retention]\nkeep_last = 2\n"
        )
        result = d.call("reload")
        assert result["reloaded"] is True and str(path) in result["message"]
        assert d.daemon.config.backup.interval == 7200
        # the status the daemon keeps follows the reload at once (review 2, 2026-11-29)
        assert d.call("status")["retention"]["keep_last"] == 2
        path.write_text(text + "[nonsense]\nkey = 1\n")
        with pytest.raises(ZarchError) as bad:
            d.call("reload")
        assert bad.value.exit_code == 2 and d.daemon.config.backup.interval == 7200
        path.write_text(text.replace(str(registry), str(root / "other.db")))
        with pytest.raises(UsageError, match=r"registry\.path changed"):
            d.call("reload")
        # A new app-version file to watch: the watcher is replaced, a migration check queued.
        version = root / "app-version"
        version.write_text("1.0\n")
        path.write_text(text + f'[migrations]\napp_version_file = "{version}"\nauto = true\n')
        old_watcher = d.daemon.watcher
        d.daemon._request_reload()  # what SIGHUP does: the main loop reloads
        # the watcher is replaced before the config is: wait for the end of the reload
        wait_for(
            lambda: (
                d.daemon.watcher is not old_watcher
                and d.daemon.config.migrations.app_version_file == version
            ),
            what="the reload",
        )
        assert d.daemon.config.migrations.app_version_file == version


def test_stop_over_the_socket_ends_run(root: Path, clock: FixedClock) -> None:
    cfg, path = config_in(root, _registry(root), QUIET)
    d = DaemonThread(cfg, config_path=path, now=clock).start()
    assert d.call("stop")["stopping"] is True
    d.thread.join(15)
    assert not d.thread.is_alive() and d.code == 0
    d.stop()  # a second stop after the end is harmless (the wake pipe is closed)


def test_a_second_daemon_for_the_same_registry_is_refused(root: Path, clock: FixedClock) -> None:
    registry = _registry(root)
    cfg, path = config_in(root, registry, QUIET)
    with DaemonThread(cfg, config_path=path, now=clock):
        other = root / "second"
        other.mkdir()
        cfg2, path2 = config_in(other, registry, QUIET)
        second = DaemonThread(cfg2, config_path=path2, now=clock)
        second.thread.start()
        second.thread.join(15)
        assert isinstance(second.error, LockHeld)
        assert "already running" in second.error.message


def test_a_deleted_lock_file_is_taken_again(root: Path, clock: FixedClock) -> None:
    registry = _registry(root)
    cfg, path = config_in(root, registry, QUIET)
    with DaemonThread(cfg, config_path=path, now=clock) as d:
        assert d.daemon.lock is not None
        lock_file = d.daemon.lock.path
        lock_file.unlink()
        d.daemon._guard_write()  # before a job: notices, takes the lock again
        assert d.daemon.lock.still_held() and lock_file.exists()
        with pytest.raises(LockHeld):
            WriterLock(registry).acquire()


def test_a_lock_taken_by_another_stops_the_daemon(root: Path, clock: FixedClock) -> None:
    registry = _registry(root)
    cfg, path = config_in(root, registry, QUIET)
    d = DaemonThread(cfg, config_path=path, now=clock).start()
    assert d.daemon.lock is not None
    d.daemon.lock.path.unlink()
    intruder = WriterLock(registry, role="intruder").acquire()
    try:
        with pytest.raises(LockHeld, match="lost the registry's writer lock"):
            d.daemon._guard_write()
        d.thread.join(15)
        assert not d.thread.is_alive() and d.code == 1
    finally:
        intruder.release()


def test_jobs_the_scheduler_and_watcher_run(root: Path, clock: FixedClock) -> None:
    registry = _registry(root)
    cfg, path = config_in(root, registry, QUIET)
    with DaemonThread(cfg, config_path=path, now=clock) as d:
        daemon = d.daemon
        daemon.run_check()
        daemon.run_backup("test")  # unchanged since the catch-up backup: skipped
        daemon.auto_migrate("test")  # nothing pending
        daemon.on_registry_change("modified")
        daemon.on_registry_change("replaced")
        daemon._after_replace()
        daemon.on_extra_change(root / "app-version")
        registry.unlink()
        daemon.run_backup("gone")  # skipped: the registry does not exist
        daemon.run_check()
        daemon.auto_migrate("gone")  # refuses to create an empty one over data
        info = daemon.daemon_info()
        assert info["running"] is True and info["socket"] == str(cfg.socket_path)


def test_auto_migration_at_start_and_its_refusal_when_off(root: Path, clock: FixedClock) -> None:
    from tests.conftest import make_baseline_registry

    registry = make_baseline_registry(root / "reg" / "registry.db", rows=20)
    cfg, path = config_in(root, registry, QUIET + "[migrations]\nauto = false\n")
    with DaemonThread(cfg, config_path=path, now=clock) as d:
        assert d.call("status")["registry"]["pending"]  # auto off: left pending, warned once
        d.daemon.auto_migrate("again")
    cfg, path = config_in(root, registry, QUIET)
    with DaemonThread(cfg, config_path=path, now=clock) as d:
        status = d.call("status")["registry"]
        assert status["pending"] == [] and status["schema_version"] == "0005_search_index"


def test_signal_handlers_are_installed_for_the_block_and_restored() -> None:
    from zarchd.daemon import signals

    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGXFSZ)}
    calls: list[str] = []
    with signals.installed(lambda: calls.append("stop"), lambda: calls.append("reload")) as on:
        assert on is True
        assert signal.getsignal(signal.SIGXFSZ) == signal.SIG_IGN
        signal.raise_signal(signal.SIGHUP)
        signal.raise_signal(signal.SIGTERM)
    assert calls == ["reload", "stop"]
    assert {s: signal.getsignal(s) for s in before} == before


def test_off_the_main_thread_no_handler_is_installed() -> None:
    from zarchd.daemon import signals

    seen: list[bool] = []
    before = signal.getsignal(signal.SIGTERM)

    def body() -> None:
        with signals.installed(lambda: None, lambda: None) as on:
            seen.append(on)

    worker = threading.Thread(target=body)
    worker.start()
    worker.join(5)
    assert seen == [False] and signal.getsignal(signal.SIGTERM) == before


def test_a_migration_added_during_start_up_is_applied(root: Path, clock: FixedClock) -> None:
    """A migration file written after the start-up migration looked, but before the watch on
    the migrations dir existed, made no event: the daemon compares what it saw then with what
    the watch starts on, and migrates again (CI once missed this: `zarchd run` answers ping
    during its start-up, before the watch)."""
    from tests.conftest import make_baseline_registry

    registry = make_baseline_registry(root / "reg" / "registry.db", rows=20)
    mig = root / "mig"
    mig.mkdir()
    cfg, path = config_in(root, registry, QUIET + f'[migrations]\ndir = "{mig}"\n')
    d = DaemonThread(cfg, config_path=path, now=clock)
    start_up = d.daemon.auto_migrate

    def then_a_new_file(reason: str) -> None:
        start_up(reason)
        if reason == "start":  # after its look at the catalog, before the watcher starts
            (mig / "0100_tags.sql").write_text(
                "-- depends: 0005_search_index\n-- migrate:up\n"
                "ALTER TABLE archives ADD COLUMN tags TEXT;\n"
            )

    d.daemon.auto_migrate = then_a_new_file  # type: ignore[method-assign]
    with d:
        wait_for(
            lambda: d.call("status")["registry"]["schema_version"] == "0100_tags",
            what="the migration added during start-up",
        )


def test_a_write_during_start_up_gets_its_change_backup(root: Path, clock: FixedClock) -> None:
    """7zarch-go writing while zarchd starts (after the start-up migration, before the watch
    exists) made no event: the daemon compares the registry's stats from then with the watch's
    first look, and the change backup follows."""
    from tests.e2e.harness import add_archive
    from zarchd.backups.take import take_backup

    registry = _registry(root)
    take_backup(registry, registry.parent, now=clock)  # recent: no catch-up backup at start
    cfg, path = config_in(
        root, registry, '[backup]\ninterval = "1h"\non_change = true\ndebounce = "1s"\n'
    )
    d = DaemonThread(cfg, config_path=path, now=clock)
    start_watcher = d.daemon._start_watcher

    def a_write_first() -> None:  # the scheduler runs already, the watch does not yet
        add_archive(registry, 1)
        start_watcher()

    d.daemon._start_watcher = a_write_first  # type: ignore[method-assign]
    with d:
        wait_for(
            lambda: len(d.call("backups", {})["backups"]) == 2,
            what="the change backup of the write made during start-up",
        )


def test_work_queued_behind_the_stop_is_refused_not_left_waiting(
    root: Path, clock: FixedClock
) -> None:
    """The stop takes the write lock so nothing writes after it; a job still queued (a
    backup's prune) waited on it for ever, and a daemon run in a thread then kept its process
    from exiting (seen as a hung test run). Now it is refused (Cancelled)."""
    from zarchd.core.errors import Cancelled

    registry = _registry(root)
    cfg, path = config_in(root, registry, QUIET)
    with DaemonThread(cfg, config_path=path, now=clock) as d:
        ops = d.daemon.ops
        assert ops is not None
    outcome: list[BaseException | None] = []

    def late_prune() -> None:
        try:
            ops.prune(reason="late")
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    late = threading.Thread(target=late_prune, daemon=True)
    late.start()
    late.join(5)
    assert outcome, "the late job still waits on the lock the stop took"
    assert isinstance(outcome[0], Cancelled), outcome


def test_an_unexpected_migration_error_at_start_does_not_stop_the_daemon(
    root: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review R4: an error that is not zarchd's own (MemoryError) in the start-up migration
    ended `zarchd run` (and, restarted by systemd, in a loop: no more backups). The step was
    rolled back; the daemon goes on guarding the registry at its old schema."""
    from tests.conftest import make_baseline_registry
    from zarchd.app.operations import Operations

    def out_of_memory(self: Operations, **_: object) -> None:
        raise MemoryError

    monkeypatch.setattr(Operations, "migrate", out_of_memory)
    registry = make_baseline_registry(root / "reg" / "registry.db", rows=5)
    cfg, path = config_in(root, registry, QUIET)
    with DaemonThread(cfg, config_path=path, now=clock) as d:
        assert d.call("status")["registry"]["pending"]  # still at its old schema, and up


def test_a_migrations_dir_made_safe_is_noticed_and_applied(root: Path, clock: FixedClock) -> None:
    """Review R6: a group-writable migrations dir is refused (its error in status and health);
    the `chmod go-w` the message asks for is noticed by the watcher, and the migration runs."""
    from tests.conftest import make_baseline_registry

    registry = make_baseline_registry(root / "reg" / "registry.db", rows=5)
    mig = root / "mig"
    mig.mkdir()
    (mig / "0100_tags.sql").write_text(
        "-- depends: 0005_search_index\n-- migrate:up\nALTER TABLE archives ADD COLUMN tags TEXT;\n"
    )
    mig.chmod(0o775)
    cfg, path = config_in(root, registry, QUIET + f'[migrations]\ndir = "{mig}"\n')
    with DaemonThread(cfg, config_path=path, now=clock) as d:
        reg = d.call("status")["registry"]
        assert "writable by other users" in reg["migrations_error"]
        health = d.call("health")
        assert not health["healthy"] and any("migrations:" in r for r in health["reasons"])
        mig.chmod(0o755)
        wait_for(
            lambda: d.call("status")["registry"].get("schema_version") == "0100_tags",
            what="the migration once the directory is safe",
        )
