"""Alerts ([notify]): hook commands on failure, recovery and success, healthchecks-style pings
for scheduled work, and the metrics file. Fed by Operations' job records (`job_recorded`) and
the daemon's scheduled runs (`ping`); all the work happens on two worker threads (hooks and the
metrics file; pings), so neither a slow command nor a dead URL ever holds up a backup.

"Recovery": a job succeeds after its previous run failed (remembered across restarts through
the job history in the state file)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from datetime import datetime
from typing import Any

from zarchd.app.operations import Operations
from zarchd.app.status import backups_report
from zarchd.core.errors import BackupError, ZarchError
from zarchd.daemon import hooks, metrics, pinger
from zarchd.daemon.worker import Worker

log = logging.getLogger(__name__)

# On shutdown, queued alerts get this long to go out (within the daemon's own stop bound).
FLUSH_S = 2.0


def _unix(at: object) -> float | None:
    try:
        return datetime.fromisoformat(str(at)).timestamp()
    except ValueError:
        return None


class Alerts:
    def __init__(
        self,
        ops: Operations,
        *,
        hook_timeout: float = hooks.HOOK_TIMEOUT_S,
        ping_timeout: float = pinger.PING_TIMEOUT_S,
        ping_retry_wait: float = pinger.RETRY_WAIT_S,
    ) -> None:
        self.ops = ops  # its config is read at each use: a reload takes effect at once
        self.hook_timeout = hook_timeout
        self.ping_timeout = ping_timeout
        self.ping_retry_wait = ping_retry_wait
        self.jobs = metrics.JobMetrics()
        self._lock = threading.Lock()  # jobs: added to by job threads, read by the worker
        self._failed: dict[str, bool] = {}  # job -> its last run failed
        for entry in ops.state.get("history", []) or []:
            if isinstance(entry, dict) and not entry.get("cancelled") and not entry.get("refused"):
                self._failed[str(entry.get("job"))] = not entry.get("ok")
                at = _unix(entry.get("at"))
                if at is not None:
                    self.jobs.add(entry, at, replay=True)
        self.hooks = Worker("zarchd-hooks")
        self.pings = Worker("zarchd-pings")

    def start(self) -> None:
        self.hooks.start()
        self.pings.start()
        self._queue_metrics()

    def stop(self) -> None:
        self.pings.stop(FLUSH_S / 2)
        self.hooks.stop(FLUSH_S / 2)

    # ---- job records ----------------------------------------------------------------------

    def job_recorded(self, entry: dict[str, Any]) -> None:
        """Operations' callback: called in the job's thread, so only queues work."""
        if entry.get("cancelled") or entry.get("refused"):
            return  # the daemon is stopping, or the caller's request was refused: no outcome
        job = str(entry.get("job"))
        ok = bool(entry.get("ok"))
        with self._lock:
            self.jobs.add(entry, _unix(entry.get("at")) or time.time())
            was_failed = self._failed.get(job, False)
            self._failed[job] = not ok
        notify = self.ops.config.notify
        if not ok:
            self._queue_hook(notify.on_failure, "failure", entry, str(entry.get("error", "")))
        else:
            if was_failed:
                self._queue_hook(notify.on_recovery, "recovery", entry, f"{job} succeeded again")
            if job == "backup":
                name = entry.get("name", "")
                self._queue_hook(notify.on_success, "success", entry, f"backup {name} taken")
        self._queue_metrics()

    def _queue_hook(
        self, argv: tuple[str, ...], event: str, entry: dict[str, Any], message: str
    ) -> None:
        if not argv:
            return
        env = {
            "ZARCH_EVENT": event,
            "ZARCH_JOB": str(entry.get("job", "")),
            "ZARCH_MESSAGE": message,
            "ZARCH_REGISTRY": str(self.ops.registry),
            "ZARCH_BACKUP": str(entry.get("name", "")),
        }
        timeout = self.hook_timeout
        self.hooks.submit(f"{event} hook", lambda: hooks.run_hook(argv, env, timeout=timeout))

    # ---- pings ----------------------------------------------------------------------------

    def ping(self, kind: str, message: str = "") -> None:
        """Scheduled work started ("start"), succeeded ("success") or failed ("fail")."""
        url = self.ops.config.notify.ping_url
        if not url:
            return
        self.pings.submit(
            f"ping {kind}",
            lambda: pinger.ping(
                url,
                kind,
                message,
                timeout=self.ping_timeout,
                retry_wait=self.ping_retry_wait,
                stopping=self.pings.stopping,
            ),
        )

    # ---- metrics --------------------------------------------------------------------------

    def _queue_metrics(self) -> None:
        if self.ops.config.notify.metrics_file is not None:
            self.hooks.submit("metrics file", self.write_metrics)

    def write_metrics(self) -> None:
        path = self.ops.config.notify.metrics_file
        if path is None:
            return
        facts: dict[str, float | int] = {"zarchd_metrics_written_timestamp_seconds": time.time()}
        registry = self.ops.registry
        with contextlib.suppress(OSError):
            facts["zarchd_registry_size_bytes"] = registry.stat().st_size
        pages = metrics.registry_pages(registry)
        if pages is not None:
            facts["zarchd_registry_pages"] = pages
        try:
            self.ops.check_backup_dir()
            listed = backups_report(self.ops, None)  # as status counts them: a link once
            if listed.get("problem"):
                raise BackupError(str(listed["problem"]))
            facts["zarchd_backups_count"] = listed["count"]
            facts["zarchd_backups_size_bytes"] = listed["total_bytes"]
        except ZarchError as exc:
            log.warning("metrics file: backups not listed (%s)", exc.message)
        try:
            with self._lock:
                text = metrics.render(self.jobs, facts)
            metrics.write(path, text)
        except OSError as exc:
            log.error("cannot write the metrics file %s (%s)", path, exc.strerror or exc)
