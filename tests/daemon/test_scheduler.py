"""Catch-up decisions (pure, fake clock) and the live APScheduler wrapper (sub-second timings)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.triggers.cron import CronTrigger

from zarchd.core.errors import ConfigError
from zarchd.daemon.scheduler import Scheduler, backup_due_at_start, check_due_at_start

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
HOUR = 3600.0
FAR = 3600.0  # an interval that never fires during a test
Make = Callable[..., Scheduler]


# -- pure catch-up ---------------------------------------------------------------------------------


@pytest.mark.parametrize("due", [backup_due_at_start, check_due_at_start])
def test_catch_up_decisions(due: Callable[[datetime | None, float, datetime], bool]) -> None:
    assert due(None, HOUR, NOW)  # never ran
    assert not due(NOW - timedelta(minutes=10), HOUR, NOW)  # fresh
    assert due(NOW - timedelta(hours=1), HOUR, NOW)  # exactly one interval
    assert due(NOW - timedelta(days=2), HOUR, NOW)  # slept / daemon down
    assert not due(NOW + timedelta(seconds=5), HOUR, NOW)  # small skew: trust it
    assert due(NOW + timedelta(days=1), HOUR, NOW)  # clock moved back
    assert not due(datetime(2025, 3, 1, 11, 30), HOUR, NOW)  # naive = UTC


# -- live scheduler --------------------------------------------------------------------------------


class Recorder:
    """Collects run_backup / run_check calls; waiters block on events, never sleep long."""

    def __init__(self) -> None:
        self.backups: list[tuple[str, float]] = []
        self.checks = 0
        self.cond = threading.Condition()
        self.fail_backups = 0

    def run_backup(self, reason: str) -> None:
        with self.cond:
            self.backups.append((reason, time.monotonic()))
            self.cond.notify_all()
            if self.fail_backups:
                self.fail_backups -= 1
                raise RuntimeError("disk full")

    def run_check(self) -> None:
        with self.cond:
            self.checks += 1
            self.cond.notify_all()

    def wait(self, pred: Callable[[], object], timeout: float = 5.0) -> bool:
        with self.cond:
            return bool(self.cond.wait_for(pred, timeout))

    def reasons(self) -> list[str]:
        with self.cond:
            return [r for r, _ in self.backups]


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def make(rec: Recorder) -> Iterator[Make]:
    made: list[Scheduler] = []

    def factory(interval: float = FAR, cron: str = "", check: float = FAR) -> Scheduler:
        s = Scheduler(
            backup_interval=interval,
            backup_cron=cron,
            check_interval=check,
            run_backup=rec.run_backup,
            run_check=rec.run_check,
        )
        made.append(s)
        return s

    yield factory
    for s in made:
        s.shutdown(wait=True)


def test_interval_backup_runs_repeatedly(make: Make, rec: Recorder) -> None:
    s = make(interval=0.3)
    s.start(catch_up_backup=False, catch_up_check=False)
    assert rec.wait(lambda: len(rec.backups) >= 3)
    assert set(rec.reasons()) == {"scheduled"}
    assert rec.checks == 0


def test_check_runs_on_its_interval(make: Make, rec: Recorder) -> None:
    s = make(check=0.2)
    s.start(catch_up_backup=False, catch_up_check=False)
    assert rec.wait(lambda: rec.checks >= 2)
    assert rec.backups == []


def test_cron_schedule_and_next_run(make: Make) -> None:
    s = make(cron="*/5 * * * *")
    trigger = CronTrigger.from_crontab("*/5 * * * *")
    before = trigger.get_next_fire_time(None, datetime.now(UTC))
    s.start(catch_up_backup=False, catch_up_check=False)
    nxt = s.next_backup_run()
    after = trigger.get_next_fire_time(None, datetime.now(UTC))
    assert nxt is not None
    assert nxt in (before, after)  # two only if a 5-minute boundary passed meanwhile
    assert nxt.minute % 5 == 0 and nxt.second == 0


def test_bad_cron_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"backup\.cron"):
        Scheduler(
            backup_interval=FAR,
            backup_cron="every tuesday",
            check_interval=FAR,
            run_backup=lambda r: None,
            run_check=lambda: None,
        )


def test_debounce_burst_gives_one_change_backup(make: Make, rec: Recorder) -> None:
    s = make()
    s.start(catch_up_backup=False, catch_up_check=False)
    for i in range(10):
        if i:
            time.sleep(0.05)
        s.changed(0.2)
        last_change = time.monotonic()
    assert rec.wait(lambda: len(rec.backups) >= 1)
    assert rec.backups[0][1] - last_change >= 0.15  # only after the quiet period
    assert not rec.wait(lambda: len(rec.backups) >= 2, timeout=0.5)
    assert rec.reasons() == ["change"]


def test_change_during_a_running_change_backup_is_not_lost(make: Make) -> None:
    started, release = threading.Event(), threading.Event()
    runs: list[str] = []
    second = threading.Event()

    def slow_backup(reason: str) -> None:
        runs.append(reason)
        if len(runs) == 1:
            started.set()
            release.wait(5)
        else:
            second.set()

    s = Scheduler(
        backup_interval=FAR,
        backup_cron="",
        check_interval=FAR,
        run_backup=slow_backup,
        run_check=lambda: None,
    )
    try:
        s.start(catch_up_backup=False, catch_up_check=False)
        s.changed(0.05)
        assert started.wait(5)
        s.changed(0.05)  # the registry changes while the backup runs
        time.sleep(0.2)  # ... and its debounced run comes due meanwhile
        release.set()
        assert second.wait(5)
        assert runs == ["change", "change"]
    finally:
        release.set()
        s.shutdown()


def test_pause_blocks_scheduled_and_change_backups_resume_restores(
    make: Make, rec: Recorder
) -> None:
    s = make(interval=0.2, check=0.2)
    s.start(catch_up_backup=False, catch_up_check=False)
    s.pause()
    assert s.paused
    assert s.next_backup_run() is None
    s.changed(0.05)
    assert rec.wait(lambda: rec.checks >= 2)  # the check keeps running ...
    assert not rec.wait(lambda: rec.backups, timeout=0.5)  # ... backups don't
    s.resume()
    assert not s.paused
    assert rec.wait(lambda: "change" in rec.reasons())  # the change seen while paused
    assert rec.wait(lambda: "scheduled" in rec.reasons())


def test_failing_job_does_not_stop_later_runs(make: Make, rec: Recorder) -> None:
    rec.fail_backups = 2
    s = make(interval=0.2)
    s.start(catch_up_backup=False, catch_up_check=False)
    assert rec.wait(lambda: len(rec.backups) >= 4)
    assert rec.fail_backups == 0


def test_catch_up_runs_once_at_start(make: Make, rec: Recorder) -> None:
    s = make()
    t0 = time.monotonic()
    s.start(catch_up_backup=True, catch_up_check=True)
    assert rec.wait(lambda: rec.backups and rec.checks)
    assert rec.backups[0][1] - t0 < 3.0  # at once, not after the 1 h interval
    assert not rec.wait(lambda: len(rec.backups) > 1 or rec.checks > 1, timeout=0.4)
    assert rec.reasons() == ["catch-up"]
    nxt = s.next_backup_run()
    assert nxt is not None and nxt > datetime.now(UTC) + timedelta(minutes=30)


def test_reconfigure_changes_the_interval(make: Make, rec: Recorder) -> None:
    s = make()
    s.start(catch_up_backup=False, catch_up_check=False)
    before = s.next_backup_run()
    s.reconfigure(backup_interval=FAR, backup_cron="", check_interval=FAR)
    assert s.next_backup_run() == before  # unchanged settings keep their time
    s.reconfigure(backup_interval=0.2, backup_cron="", check_interval=FAR)
    assert rec.wait(lambda: len(rec.backups) >= 2)
    s.reconfigure(backup_interval=FAR, backup_cron="0 3 * * *", check_interval=FAR)
    nxt = s.next_backup_run()
    assert nxt is not None and (nxt.hour, nxt.minute) == (3, 0)


def test_reconfigure_while_paused_stays_paused(make: Make, rec: Recorder) -> None:
    s = make()
    s.start(catch_up_backup=False, catch_up_check=False)
    s.pause()
    s.reconfigure(backup_interval=0.1, backup_cron="", check_interval=FAR)
    assert not rec.wait(lambda: rec.backups, timeout=0.4)
    s.resume()
    assert rec.wait(lambda: rec.backups)


def test_oneoff_runs_each_time_it_is_added(make: Make, rec: Recorder) -> None:
    s = make()
    s.start(catch_up_backup=False, catch_up_check=False)
    migrated = threading.Semaphore(0)
    s.add_oneoff("migrate", migrated.release)
    assert migrated.acquire(timeout=5)
    s.add_oneoff("migrate", migrated.release)
    assert migrated.acquire(timeout=5)


def test_shutdown_before_start_is_harmless(make: Make) -> None:
    s = make()
    s.shutdown()
    s.changed(0.1)  # after shutdown: ignored, no error
