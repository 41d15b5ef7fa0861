"""zarchd run: composes the scheduler, the watcher and the control server around Operations.

Lifecycle (uvicorn's habit): signal handlers only set a flag and wake the main loop through a
self-pipe; the main loop reloads, pings the systemd watchdog, and on stop shuts everything down
within a bound. All registry-writing work goes through Operations, whose lock serialises it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
from pathlib import Path
from typing import Any

from zarchd import __version__
from zarchd.app.dispatch import command_entry, dispatch
from zarchd.app.health import health
from zarchd.app.operations import Operations
from zarchd.app.remotes import RemoteRunner
from zarchd.app.results import DaemonInfo, HealthResult, MessageResult, PingResult, StatusReport
from zarchd.app.state import State
from zarchd.app.status import build_status
from zarchd.app.statuscache import StatusCache
from zarchd.control.server import ControlServer
from zarchd.core import logsetup
from zarchd.core.clock import Clock, iso, parse_iso, utcnow
from zarchd.core.config import Config, load_config, may_create_registry
from zarchd.core.errors import (
    Cancelled,
    ConfigError,
    LockHeld,
    RegistryError,
    UsageError,
    ZarchError,
)
from zarchd.core.progress import Progress
from zarchd.daemon import signals
from zarchd.daemon.alerts import Alerts
from zarchd.daemon.scheduler import Scheduler, backup_due_at_start, check_due_at_start
from zarchd.daemon.sdnotify import Notifier
from zarchd.daemon.watcher import (
    InputsToken,
    RegistryToken,
    RegistryWatcher,
    changed_paths,
    inputs_token,
    registry_token,
)
from zarchd.db.lock import WriterLock

log = logging.getLogger("zarchd")
# SIGTERM to exit stays inside the 10 s the issue allows, with room for the socket's grace.
SHUTDOWN_BOUND_S = 6.0
# How often the daemon makes sure its writer lock file is still the one it holds.
LOCK_CHECK_S = 2.0


class Daemon:
    """One daemon: `run()` blocks until `request_stop()` (or SIGTERM/SIGINT on the main thread)
    and returns the exit code; it never exits the process (only `zarchd run` does). `ready` is
    set once the socket answers and the jobs are scheduled, so a test can run it in a thread."""

    def __init__(
        self, config: Config, *, config_path: Path | None = None, now: Clock = utcnow
    ) -> None:
        self.config_path = config_path  # re-read on reload
        self.config = config
        self.now = now
        self.ready = threading.Event()
        self.notifier = Notifier.from_env()
        self.started = time.monotonic()
        self._stopping = False
        self._reload_lock = threading.Lock()
        self._reload_requested = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        # re-entrant: _wake runs from signal handlers, which may interrupt _close_pipe holding it
        self._pipe_lock = threading.RLock()  # a late wake-up must not write to a closed fd
        self._pipe_open = True
        self._warned_versions: set[str] = set()
        self.ops: Operations | None = None
        self.alerts: Alerts | None = None
        self.remotes: RemoteRunner | None = None
        self.scheduler: Scheduler | None = None
        self.watcher: RegistryWatcher | None = None
        self.status_cache: StatusCache | None = None
        self.server: ControlServer | None = None
        self.lock: WriterLock | None = None
        self.exit_code = 0
        self._lock_check = threading.Lock()
        self._lock_lost = False

    # ---- lifecycle ------------------------------------------------------------------------

    def run(self) -> int:
        with signals.installed(self.request_stop, self._request_reload):
            try:
                self._start()
                self._loop()
            finally:
                try:
                    self._shutdown()
                finally:
                    self._close_pipe()
        return self.exit_code

    def _start(self) -> None:
        cfg = self.config
        registry = cfg.registry_path
        log.info(
            "zarchd %s starting: registry %s, backups in %s, config %s",
            __version__,
            registry,
            cfg.backup_dir,
            cfg.source or "defaults",
        )
        if not registry.exists() and not may_create_registry(cfg):
            absent = Operations(cfg, now=self.now).absent_problem()
            if absent:  # a mistyped path: no directory, no lock, no empty registry made
                raise RegistryError(f"{absent}; or set registry.create = true")
        _make_dir(registry.parent, "registry directory")
        try:
            self.lock = WriterLock(registry, role="zarchd").acquire()
        except LockHeld as exc:
            raise LockHeld(f"zarchd is already running for {registry}: {exc.message}") from None
        state = State(cfg.state_dir)
        self.ops = Operations(cfg, now=self.now, state=state)
        self.ops.write_lock.guard = self._guard_write
        self.alerts = Alerts(self.ops)
        self.ops.on_job = self._job_recorded
        self.remotes = RemoteRunner(cfg, self.now) if cfg.remotes else None
        # status answers from a report kept current after each job and on registry changes
        self.status_cache = StatusCache(self.ops)
        self.ops.on_job = self.status_cache.after_job(self.ops.on_job)
        self.alerts.start()
        _make_dir(cfg.backup_dir, "backup directory")
        self.ops.check_backup_dir()  # exit 2: other users could plant or swap backups there
        self.ops.remove_leftovers()  # we hold the writer lock
        self.ops.resumed = None  # logged; a later `recover` starts afresh
        if registry.exists():
            self.ops.settle_hot_journal()
        server = ControlServer(cfg.socket_path, self.handle)
        server.start()
        self.server = server  # only a started server is ours to stop (and its socket to remove)
        inputs = inputs_token(*_watched_inputs(cfg))
        with self.notifier.extending("applying pending migrations before start"):
            self.auto_migrate("start")
        if self._stopping:  # SIGTERM during a long start-up migration
            return
        seen = registry_token(registry)  # a write from here until the watch exists: see below
        now = self.now()
        last_backup = parse_iso((state.get("last_backup") or {}).get("at"))
        if last_backup is None:
            last_backup = self.ops.newest_backup_at()
        last_check = parse_iso((state.get("last_check") or {}).get("at"))
        self.scheduler = Scheduler(
            backup_interval=cfg.backup.interval,
            backup_cron=cfg.backup.cron,
            check_interval=cfg.check.interval,
            run_backup=self.run_backup,
            run_check=self.run_check,
        )
        catch_up = registry.exists() and backup_due_at_start(last_backup, cfg.backup.interval, now)
        if registry.exists() and not catch_up:  # said: a test (or a person) sees the decision
            log.info("no catch-up backup: the last one (%s) is recent", iso(last_backup))
        self.scheduler.start(
            catch_up_backup=catch_up,
            catch_up_check=registry.exists()
            and check_due_at_start(last_check, cfg.check.interval, now),
        )
        self.status_cache.start()
        self._start_watcher()
        self._changed_since(seen, inputs)
        if self.remotes:  # after the catch-up backup was scheduled: its upload is queued too
            self.remotes.start()
        self.notifier.ready(self._status_line())
        self.ready.set()
        log.info("zarchd ready (pid %d)", os.getpid())

    def _changed_since(self, registry: RegistryToken, inputs: InputsToken) -> None:
        """What changed before the watch existed made no event: a write to the registry after
        the start-up migration (a change backup is due), a migration file (or app version)
        after that migration's look at them (migrate again). Compared with the watch's first
        look."""
        if self.watcher is None:
            return
        if self.watcher.registry_token != registry:
            log.info("the registry changed while zarchd was starting")
            self.on_registry_change("modified")
        now = self.watcher.inputs_token
        if now is not None and now != inputs:
            self.on_extra_change(Path(changed_paths(inputs, now)[0]))

    def _start_watcher(self, cfg: Config | None = None) -> None:
        cfg = cfg or self.config
        extra_files, extra_dirs = _watched_inputs(cfg)
        watcher = RegistryWatcher(
            cfg.registry_path,
            self.on_registry_change,
            extra_files=extra_files,
            extra_dirs=extra_dirs,
            on_extra_change=self.on_extra_change,
        )
        watcher.start()
        self.watcher = watcher

    def _loop(self) -> None:
        if self.scheduler is None:
            return  # asked to stop while starting
        interval = self.notifier.watchdog_interval()
        timeout = LOCK_CHECK_S if interval is None else min(interval, LOCK_CHECK_S)
        while not self._stopping:
            ready, _, _ = select.select([self._wake_r], [], [], timeout)
            if ready:
                os.read(self._wake_r, 4096)
            self._check_lock()
            if self._reload_requested:
                self._reload_requested = False
                with contextlib.suppress(ZarchError):  # logged by reload(); the config stays
                    self.reload()
            if interval is not None and not self._stopping and self._healthy():
                self.notifier.watchdog()
                self.notifier.status(self._status_line())

    def _guard_write(self) -> None:
        """Before each job: still the registry's only writer? (else LockHeld, nothing written)"""
        self._check_lock()
        if self._lock_lost:
            raise LockHeld(
                f"zarchd (pid {os.getpid()}) lost the registry's writer lock to "
                f"another process and is stopping; nothing was written"
            )

    def _check_lock(self) -> None:
        """Our lock file vanished or was replaced (its directory deleted and made again): a
        second daemon could take a new lock meanwhile. Re-take it, or stop if someone did."""
        with self._lock_check:  # the main loop and job threads both check
            if self.lock is None or self._lock_lost or self.lock.still_held():
                return
            self._retake_lock()

    def _retake_lock(self) -> None:
        assert self.lock is not None
        log.error(
            "the writer lock %s is no longer the file this daemon locked (deleted or "
            "replaced); taking it again",
            self.lock.path,
        )
        old, self.lock = self.lock, None
        try:
            self.lock = WriterLock(self.config.registry_path, role="zarchd").acquire()
        except ZarchError as exc:
            self.lock = old  # keep the old flock until we are gone: our work may still be running
            log.error(
                "zarchd is STOPPING: it cannot hold the registry's writer lock again: %s",
                exc.message,
            )
            self._lock_lost = True
            self.exit_code = 1
            self.request_stop()
            return
        old.release()
        log.warning("writer lock %s taken again", self.lock.path)

    def _healthy(self) -> bool:
        """Ping systemd's watchdog only while the threads doing the work are alive."""
        return bool(self.scheduler and self.scheduler.alive and self.server and self.server.alive)

    def _shutdown(self) -> None:
        """Stop within SHUTDOWN_BOUND_S: a running backup is cancelled (its temp file removed);
        work that still does not stop is abandoned: `zarchd run` then exits hard, which SQLite
        survives (an unfinished transaction is rolled back from its journal by the next writer)."""
        self.notifier.stopping()
        log.info("zarchd stopping")
        deadline = time.monotonic() + SHUTDOWN_BOUND_S
        if self.watcher:
            self.watcher.stop(timeout=2.0)
        if self.status_cache is not None:
            self.status_cache.stop()
        if self.scheduler:
            self.scheduler.shutdown(wait=False)
        finished = True
        if self.ops:
            self.ops.cancel.set()
            finished = self.ops.write_lock.acquire(timeout=max(0.1, deadline - time.monotonic()))
            if finished:
                # Work still queued behind the lock (a backup's prune) is refused from now on,
                # not left waiting on a lock nobody releases: a daemon run in a thread would
                # keep its process from ever exiting.
                self.ops.write_lock.guard = _refuse_after_stop
                self.ops.write_lock.release()
        if self.server:
            self.server.stop(timeout=max(0.5, deadline - time.monotonic()))
        if self.remotes:  # a running transfer is stopped; its entry stays queued
            self.remotes.stop(timeout=max(0.5, deadline - time.monotonic()))
        if self.alerts:
            self.alerts.stop()  # bounded: queued alerts get a moment to go out
        if not finished:
            # The lock stays held until the process is gone (the kernel drops it): nobody may
            # clean up temp files the abandoned work may still be writing.
            log.warning(
                "work still running after %.0fs was abandoned; zarchd stopped", SHUTDOWN_BOUND_S
            )
        else:
            if self.lock:
                self.lock.release()
            log.info("zarchd stopped")

    def _job_recorded(self, entry: dict[str, Any]) -> None:
        """Operations' job callback (in the job's thread): alerts, and a backup's upload queued
        for every remote; both only queue work, neither waits on it."""
        assert self.alerts is not None
        self.alerts.job_recorded(entry)
        if self.remotes and not entry.get("cancelled") and not entry.get("refused"):
            self.remotes.job_recorded(entry)

    def request_stop(self) -> None:
        self._stopping = True
        self._wake()

    def _request_reload(self) -> None:
        self._reload_requested = True
        self._wake()

    def _wake(self) -> None:
        with self._pipe_lock:
            if not self._pipe_open:
                return  # run() has ended: nothing left to wake
            # A full pipe: the loop is going to wake anyway.
            with contextlib.suppress(BlockingIOError):
                os.write(self._wake_w, b"x")

    def _close_pipe(self) -> None:
        with self._pipe_lock:
            if self._pipe_open:
                self._pipe_open = False
                os.close(self._wake_r)
                os.close(self._wake_w)

    # ---- jobs -----------------------------------------------------------------------------

    def run_backup(self, reason: str) -> None:
        """Scheduled, catch-up or change-triggered backup: skipped when unchanged, then prune."""
        assert self.ops is not None
        if self._stopping:
            return
        if not self.config.registry_path.exists():
            log.info("backup (%s) skipped: the registry does not exist", reason)
            return
        self._ping("start")
        try:
            result = self.ops.backup(reason=reason, force=False)
            if result.get("skipped"):
                log.info("backup (%s) skipped: %s", reason, result["reason"])
                self._ping("success", f"backup ({reason}) skipped: {result['reason']}")
                return
            # Operations logs each job's start and end (zarchd.app.joblog): nothing more here.
            with contextlib.suppress(Cancelled):  # zarchd stopping: the backup is written
                self.ops.prune(reason=reason)
            self._ping("success", f"backup ({reason}) written: {result['backup']['name']}")
        except Cancelled:
            return  # zarchd is stopping: no failure to report, nothing was written
        except ZarchError as exc:
            # logged by Operations with its duration, and recorded as the last error
            self._ping("fail", f"backup ({reason}) failed: {exc.message}")
        self.notifier.status(self._status_line())

    def run_check(self, reason: str = "schedule") -> None:
        assert self.ops is not None
        if not self.config.registry_path.exists():
            return
        # Operations logs the outcome ("integrity check ok", or "the registry is DAMAGED").
        try:
            result = self.ops.check(reason=reason)
        except ZarchError:
            return
        if not result["ok"]:
            problems = "; ".join(result["problems"][:3])
            self._ping("fail", f"the registry is damaged: {problems}")

    def _ping(self, kind: str, message: str = "") -> None:
        if self.alerts is not None:
            self.alerts.ping(kind, message)

    def auto_migrate(self, reason: str) -> None:
        """Apply pending migrations when allowed; otherwise warn once per app version."""
        assert self.ops is not None
        missing = self.ops.missing_problem()
        if missing:  # never replace a registry that held data with a new empty one
            log.error("%s", missing)
            return
        try:
            pending = self.ops.pending_migrations()
        except ZarchError as exc:
            log.error("cannot check migrations (%s): %s", reason, exc.message)
            return
        if not pending:
            return
        ids = ", ".join(m.id for m in pending)
        if not self.config.migrations.auto:
            key = f"{self.ops.app_version()}:{ids}"
            if key not in self._warned_versions:
                self._warned_versions.add(key)
                log.warning(
                    "%d migration(s) pending (%s) for app version %s and auto-migration "
                    "is off; apply them with `zarchctl migrate`",
                    len(pending),
                    ids,
                    self.ops.app_version(),
                )
            return
        # Operations logs the start ("applying N pending migration(s)") and the outcome.
        try:
            self.ops.migrate(reason=reason)
        except ZarchError:
            pass
        except Exception:  # e.g. MemoryError: the step was rolled back; backups go on
            log.exception("migration (%s) failed unexpectedly; zarchd goes on guarding", reason)

    def on_registry_change(self, kind: str) -> None:
        assert self.scheduler is not None
        if self.status_cache is not None:
            self.status_cache.changed()
        if kind in ("replaced", "created", "deleted"):
            log.info("registry %s", kind)
            if kind != "deleted":
                self.scheduler.add_oneoff("registry-replaced", self._after_replace)
        if self.config.backup.on_change:
            # While paused the scheduler remembers the change and backs up on resume.
            self.scheduler.changed(self.config.backup.debounce)

    def _after_replace(self) -> None:
        assert self.ops is not None
        self.ops.settle_hot_journal()
        self.run_check("registry replaced")
        self.auto_migrate("registry replaced")

    def on_extra_change(self, path: Path) -> None:
        assert self.scheduler is not None
        log.info("application version input changed: %s", path)
        if self.status_cache is not None:  # e.g. a migrations_error fixed by a chmod
            self.status_cache.changed()
        self.scheduler.add_oneoff("migrate", lambda: self.auto_migrate("app version changed"))

    # ---- reload ---------------------------------------------------------------------------

    def reload(self) -> dict[str, Any]:
        """Re-read the config; a bad one is refused and the running config kept."""
        with self._reload_lock:  # SIGHUP and `zarchctl reload` may arrive together
            return self._reload()

    def _reload(self) -> dict[str, Any]:
        try:
            new = load_config(self.config_path)
        except ConfigError as exc:
            log.error("reload refused, keeping the running config: %s", exc.message)
            raise
        for what, old_value, new_value in (
            ("registry.path", self.config.registry_path, new.registry_path),
            ("control.socket", self.config.socket_path, new.socket_path),
        ):
            if old_value != new_value:
                message = (
                    f"reload refused: {what} changed ({old_value} -> {new_value}); "
                    "restart zarchd for that change"
                )
                log.error(message)
                raise UsageError(message)
        old = self.config
        assert self.ops is not None and self.scheduler is not None
        watch_changed = (old.migrations.app_version_file, old.migrations.dir) != (
            new.migrations.app_version_file,
            new.migrations.dir,
        )
        if watch_changed:
            # The new watcher first: if it cannot start, the old config and watcher stay.
            previous = self.watcher
            self._start_watcher(new)
            if previous:
                previous.stop()
        self.config = new
        self.ops.config = new
        logsetup.set_level(new.log.level)
        self.scheduler.reconfigure(
            backup_interval=new.backup.interval,
            backup_cron=new.backup.cron,
            check_interval=new.check.interval,
        )
        if watch_changed or (new.migrations.auto and not old.migrations.auto):
            self.scheduler.add_oneoff("migrate", lambda: self.auto_migrate("config reloaded"))
        if (old.remotes, old.backup_dir, old.retention) != (
            new.remotes,
            new.backup_dir,
            new.retention,
        ):
            self._restart_remotes(new)
        if self.status_cache is not None:  # retention, remotes, ... as status shows them
            self.status_cache.refresh()  # before `reload` answers: the next status is current
        log.info("config reloaded from %s", new.source or "defaults")
        return {"reloaded": True, "config": str(new.source) if new.source else None}

    def _restart_remotes(self, cfg: Config) -> None:
        """New [[remote]] tables: the old threads stop (a transfer is cut, its entry stays
        queued), new ones start and queue the newest backup for a remote added now."""
        if self.remotes:
            self.remotes.stop()
        self.remotes = RemoteRunner(cfg, self.now) if cfg.remotes else None
        if self.remotes:
            self.remotes.start()

    # ---- control --------------------------------------------------------------------------

    def daemon_info(self) -> DaemonInfo:
        return {
            "running": True,
            "pid": os.getpid(),
            "version": __version__,
            "uptime_s": round(time.monotonic() - self.started, 1),
            "paused": self.paused,
            "app_version": self.ops.app_version() if self.ops else None,
            "migrated_for_app_version": self.ops.state.get("migrated_app_version")
            if self.ops
            else None,
            "socket": str(self.config.socket_path),
        }

    def handle(self, command: str, params: dict[str, Any], progress: Progress) -> Any:
        """Answer one control request: the command table says whether we or Operations do."""
        assert self.ops is not None
        target = self if command_entry(command).runs_in == "daemon" else self.ops
        return dispatch(target, command, params, progress)

    # ---- the daemon's own commands (runs_in="daemon" in zarchd.app.commands) ----------

    def ping(self) -> PingResult:
        return {
            "pong": True,
            "pid": os.getpid(),
            "version": __version__,
            "registry": str(self.config.registry_path),
            "backup_dir": str(self.config.backup_dir),
            "config": str(self.config.source) if self.config.source else None,
        }

    def status(self) -> StatusReport:
        assert self.ops is not None
        next_run = self.scheduler.next_backup_run() if self.scheduler else None
        if self.status_cache is not None:
            return self.status_cache.report(self.daemon_info(), iso(next_run))
        return build_status(self.ops, self.daemon_info(), iso(next_run))

    def health(self) -> HealthResult:
        assert self.ops is not None
        if self.status_cache is not None:  # not the cached answer: health decides an exit code
            next_run = self.scheduler.next_backup_run() if self.scheduler else None
            fresh = self.status_cache.report(self.daemon_info(), iso(next_run), fresh=True)
            return health(self.ops, fresh)
        return health(self.ops, self.status())

    def _started(self, command: str) -> Scheduler:
        if self.scheduler is None:
            raise ZarchError(
                "zarchd is still starting (applying start-up migrations); "
                f"try `{command}` again in a moment"
            )
        return self.scheduler

    def pause(self) -> MessageResult:
        self._started("pause").pause()
        log.info("paused: scheduled and change-triggered backups stopped")
        return {"paused": True, "message": "paused: no scheduled or change-triggered backups"}

    def resume(self) -> MessageResult:
        self._started("resume").resume()
        log.info("resumed")
        return {"paused": False, "message": "resumed"}

    def reload_config(self) -> dict[str, Any]:
        self._started("reload")
        result = self.reload()
        result["message"] = f"config reloaded from {result['config'] or 'defaults'}"
        return result

    def stop(self) -> MessageResult:
        threading.Timer(0.05, self.request_stop).start()  # answer first, then stop
        return {"stopping": True, "message": "zarchd is stopping"}

    @property
    def paused(self) -> bool:
        return bool(self.scheduler and self.scheduler.paused)

    def _status_line(self) -> str:
        if self.ops is None:
            return "starting"
        last = self.ops.state.get("last_backup") or {}
        at = parse_iso(last.get("at"))
        if at is None:
            line = "no backup yet"
        else:
            line = f"last backup {int((self.now() - at).total_seconds())}s ago ({last.get('name')})"
        return line + (" (paused)" if self.paused else "")


def _refuse_after_stop() -> None:
    raise Cancelled("zarchd is stopping; nothing was written")


def _watched_inputs(cfg: Config) -> tuple[list[Path], list[Path]]:
    """The app's version file and migrations dir: what decides which migrations are pending."""
    files = [cfg.migrations.app_version_file] if cfg.migrations.app_version_file else []
    dirs = [cfg.migrations.dir] if cfg.migrations.dir and cfg.migrations.dir.is_dir() else []
    return files, dirs


def _make_dir(path: Path, what: str) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except (FileExistsError, NotADirectoryError) as exc:
        raise ZarchError(
            f"the {what} {path} is not a directory (a file is in the way); move it "
            f"or choose another place in the configuration"
        ) from exc
    except OSError as exc:
        raise ZarchError(f"cannot create the {what} {path}: {exc.strerror or exc}") from exc
