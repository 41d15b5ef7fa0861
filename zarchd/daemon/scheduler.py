"""APScheduler 3.x jobs: scheduled and change-triggered backups, the integrity check, one-off work.

Every job runs on ONE worker thread, so registry work started by the scheduler never overlaps
(a change backup that fires during a scheduled one waits for it). The memory job store forgets
missed runs across restarts, so the daemon persists its last results and asks the pure
`*_due_at_start` functions whether to catch up.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from zarchd.core.errors import ConfigError

log = logging.getLogger(__name__)

BACKUP, CHECK, CHANGE = "backup", "check", "backup-change"
# A recorded time this far in the future means the clock jumped; distrust it and catch up.
CLOCK_SKEW_TOLERANCE = timedelta(seconds=60)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _due(last: datetime | None, interval_s: float, now: datetime) -> bool:
    if last is None:
        return True
    age = _aware(now) - _aware(last)
    if age < -CLOCK_SKEW_TOLERANCE:
        return True
    return age >= timedelta(seconds=interval_s)


def backup_due_at_start(last_backup_at: datetime | None, interval_s: float, now: datetime) -> bool:
    """True when no backup was ever made, the newest is at least one interval old (machine slept,
    daemon down), or its time lies in the future (clock moved back: the record can't be trusted)."""
    return _due(last_backup_at, interval_s, now)


def check_due_at_start(last_check_at: datetime | None, interval_s: float, now: datetime) -> bool:
    """Same rule as backups, for the periodic integrity check."""
    return _due(last_check_at, interval_s, now)


def backup_trigger(interval: float, cron: str, tz: tzinfo | None) -> BaseTrigger | None:
    """The scheduled-backup trigger: cron when set, else the interval; None when neither is."""
    if cron.strip():
        try:
            return CronTrigger.from_crontab(cron.strip(), timezone=tz)
        except ValueError as exc:
            raise ConfigError(
                [f"backup.cron: {cron!r} is not a crontab expression ({exc})"]
            ) from None
    return IntervalTrigger(seconds=interval, timezone=tz) if interval > 0 else None


def _soon() -> DateTrigger:
    # APScheduler runs on the real clock; a run date of "now" fires at once.
    return DateTrigger(run_date=datetime.now(UTC))


class Scheduler:
    def __init__(
        self,
        *,
        backup_interval: float,
        backup_cron: str,
        check_interval: float,
        run_backup: Callable[[str], None],
        run_check: Callable[[], None],
        tz: tzinfo | None = None,
    ) -> None:
        self._run_backup = run_backup
        self._run_check = run_check
        self._tz = tz
        self._lock = threading.RLock()
        self._paused = False
        self._stopping = False
        self._pending_debounce: float | None = None  # a change seen while paused
        self._settings = (backup_interval, backup_cron, check_interval)
        self._backup_trigger = backup_trigger(backup_interval, backup_cron, tz)
        options: dict[str, Any] = {
            "executors": {"default": ThreadPoolExecutor(max_workers=1)},
            # coalesce + no grace limit: after a suspend, missed runs become exactly one late run
            # (the catch-up we want), and a job queued behind a long backup is never dropped.
            "job_defaults": {"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        }
        if tz is not None:
            options["timezone"] = tz
        self._sched = BackgroundScheduler(**options)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self, *, catch_up_backup: bool, catch_up_check: bool) -> None:
        with self._lock:
            if self._backup_trigger is not None:
                self._sched.add_job(
                    self._job_backup,
                    self._backup_trigger,
                    args=["scheduled"],
                    id=BACKUP,
                    name="scheduled backup",
                )
            if self._settings[2] > 0:
                self._sched.add_job(
                    self._job_check,
                    IntervalTrigger(seconds=self._settings[2]),
                    id=CHECK,
                    name="integrity check",
                )
            if catch_up_backup:
                self._sched.add_job(
                    self._job_backup,
                    _soon(),
                    args=["catch-up"],
                    id="backup-catch-up",
                    name="catch-up backup",
                )
            if catch_up_check:
                self._sched.add_job(
                    self._job_check, _soon(), id="check-catch-up", name="catch-up check"
                )
            self._sched.start()
        log.info("scheduler started; next backup %s", self.next_backup_run())

    def shutdown(self, wait: bool = True) -> None:
        """Stop firing jobs; jobs still queued are skipped, a running one finishes when `wait`."""
        self._stopping = True
        with contextlib.suppress(SchedulerNotRunningError):
            self._sched.shutdown(wait=wait)

    # -- pause / resume --------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def alive(self) -> bool:
        """For the systemd watchdog: the scheduler thread still runs."""
        thread = getattr(self._sched, "_thread", None)  # BackgroundScheduler's own thread
        alive = thread is None or thread.is_alive()
        return bool(self._sched.running) and alive and not self._stopping

    def pause(self) -> None:
        """Stop scheduled and change-triggered backups; the integrity check keeps running."""
        with self._lock:
            self._paused = True
            if self._sched.get_job(BACKUP):
                self._sched.pause_job(BACKUP)
            change = self._sched.get_job(CHANGE)
            if change is not None:
                self._pending_debounce = 0.0
                self._sched.remove_job(CHANGE)
        log.debug("backups paused")  # the daemon's pause says so: one line per event

    def resume(self) -> None:
        """Restart backups; a change seen while paused gets its debounced backup now."""
        with self._lock:
            self._paused = False
            if self._sched.get_job(BACKUP):
                self._sched.resume_job(BACKUP)
            pending, self._pending_debounce = self._pending_debounce, None
            if pending is not None:
                self._arm_change(pending)
        log.debug("backups resumed")

    # -- triggers from outside ------------------------------------------------------------------

    def changed(self, debounce_s: float) -> None:
        """The registry changed: back up once it is quiet for `debounce_s` (a burst is one run)."""
        with self._lock:
            if self._stopping:
                return
            if self._paused:
                self._pending_debounce = debounce_s
                log.debug("change while paused: its backup waits for resume")
                return
            self._arm_change(debounce_s)

    def _arm_change(self, debounce_s: float) -> None:
        run_at = datetime.now(UTC) + timedelta(seconds=max(debounce_s, 0.0))
        # Re-arming the same id moves the run date: every change restarts the quiet period.
        # max_instances=2: a change during the change backup queues one more run, never lost;
        # the single worker keeps them from overlapping.
        self._sched.add_job(
            self._job_backup,
            DateTrigger(run_date=run_at),
            args=["change"],
            id=CHANGE,
            name="change backup",
            replace_existing=True,
            max_instances=2,
        )

    def add_oneoff(self, name: str, func: Callable[[], None]) -> None:
        """Run `func` once, soon, on the scheduler's worker; a second request while one runs
        queues exactly one more run (so e.g. a version change during a migration isn't lost)."""
        with self._lock:
            if self._stopping:
                return
            self._sched.add_job(
                self._job_oneoff,
                _soon(),
                args=[name, func],
                id=f"oneoff-{name}",
                name=name,
                replace_existing=True,
                max_instances=2,
            )

    # -- reload / status -------------------------------------------------------------------------

    def reconfigure(
        self, *, backup_interval: float, backup_cron: str, check_interval: float
    ) -> None:
        """Apply reloaded settings; unchanged settings keep their next run time."""
        with self._lock:
            old_interval, old_cron, old_check = self._settings
            if (backup_interval, backup_cron) != (old_interval, old_cron):
                trigger = backup_trigger(backup_interval, backup_cron, self._tz)
                self._replace(BACKUP, trigger, self._job_backup, ["scheduled"], "scheduled backup")
                if self._paused and trigger is not None:
                    self._sched.pause_job(BACKUP)
                self._backup_trigger = trigger
            if check_interval != old_check:
                trigger = IntervalTrigger(seconds=check_interval) if check_interval > 0 else None
                self._replace(CHECK, trigger, self._job_check, [], "integrity check")
            self._settings = (backup_interval, backup_cron, check_interval)
        log.debug("schedule reconfigured; next backup %s", self.next_backup_run())

    def _replace(
        self,
        job_id: str,
        trigger: BaseTrigger | None,
        func: Callable[..., None],
        args: list[str],
        name: str,
    ) -> None:
        if self._sched.get_job(job_id):
            self._sched.remove_job(job_id)
        if trigger is not None:
            self._sched.add_job(func, trigger, args=args, id=job_id, name=name)

    def next_backup_run(self) -> datetime | None:
        """The earliest pending backup (scheduled, debounced change or catch-up); None if none."""
        times = []
        for job_id in (BACKUP, CHANGE, "backup-catch-up"):
            job = self._sched.get_job(job_id)
            moment = getattr(job, "next_run_time", None) if job is not None else None
            if moment is not None:
                times.append(moment)
        return min(times) if times else None

    # -- job bodies (the worker thread) -----------------------------------------------------------

    def _job_backup(self, reason: str) -> None:
        if self._stopping:
            return
        if self._paused:
            if reason == "change":
                with self._lock:
                    self._pending_debounce = 0.0
            log.info("backup (%s) skipped: backups are paused", reason)
            return
        self._guarded(f"backup ({reason})", self._run_backup, reason)

    def _job_check(self) -> None:
        if not self._stopping:
            self._guarded("integrity check", self._run_check)

    def _job_oneoff(self, name: str, func: Callable[[], None]) -> None:
        if not self._stopping:
            self._guarded(name, func)
            log.debug("job %s done", name)  # a signal for tests: what it did is in the log

    @staticmethod
    def _guarded(what: str, func: Callable[..., None], *args: str) -> None:
        # A failed job is logged and the schedule carries on; results are recorded by the callee.
        try:
            func(*args)
        except Exception:
            log.exception("%s failed", what)
