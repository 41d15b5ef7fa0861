"""The daemon's `status`, kept current off the request path (issue 16 item 3).

Building a status report reads the registry (quick_check, schema, ledger) and every sidecar in
the backup directory: ~100 ms with 1,000 backups, and seconds for the 32nd of 32 concurrent
callers. The daemon instead keeps the last report and refreshes it after each job (before the
job's caller gets its answer), after watcher events (coalesced), and when a request or the
minutely look finds the stats of the registry or backup dir moved. A request only stats a few
files and copies the kept report.

Never stale without saying so (issue 13): the report remembers the stats of the registry (and
its -wal/-journal) it was built from. When they differ at request time the registry changed
since zarchd last looked: `integrity` is then `unknown` with `integrity_stale` true (what the
last look found is in `integrity_problems`) until the refresh, which the request triggers, is
done. `integrity_checked_at` is the time of the daemon's own quick_check, with its age.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from zarchd.app.operations import Operations
from zarchd.app.remotes import remotes_report
from zarchd.app.results import BackupsReport, DaemonInfo, RegistryReport, StatusReport
from zarchd.app.status import build_status
from zarchd.core.clock import iso, parse_iso

log = logging.getLogger(__name__)

COALESCE_S = 0.2  # a burst of writes (one 7zarch-go transaction) is one refresh, not many
PERIOD_S = 60.0  # a change no event told (a lost inotify event, the backup dir): stats only

_Stats = tuple[tuple[int, int, int, int] | None, ...]


def _stat(path: str) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def registry_stats(ops: Operations) -> _Stats:
    """What a change of the registry changes: the file, its WAL and its rollback journal (ctime
    too: a write in the same mtime tick still moves it). Stats only, never an open()."""
    base = str(ops.registry)
    return (_stat(base), _stat(base + "-wal"), _stat(base + "-journal"))


def backups_stats(ops: Operations) -> tuple[str, tuple[int, int, int, int] | None]:
    """A backup or sidecar added, removed or replaced (atomic writes rename) moves the dir."""
    return (str(ops.store), _stat(str(ops.store)))


class StatusCache:
    """The kept report, a refresher thread, and the request path (`report`)."""

    def __init__(
        self, ops: Operations, *, coalesce_s: float = COALESCE_S, period_s: float = PERIOD_S
    ) -> None:
        self.ops = ops
        self.coalesce_s = coalesce_s
        self.period_s = period_s
        self._lock = threading.Lock()  # guards the kept report; held only to swap or copy it
        self._refreshing = threading.Lock()  # one refresh at a time
        self._report: StatusReport | None = None
        self._reg_stats: _Stats | None = None
        self._dir_stats: tuple[str, tuple[int, int, int, int] | None] | None = None
        self._built_at: datetime | None = None
        self._checked_at: datetime | None = None  # when the kept quick_check ran, if it did
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.refreshes = 0  # how many reports were built (tests, and the log)

    # ---- keeping it current -------------------------------------------------------------

    def start(self) -> None:
        self.refresh()
        self._thread = threading.Thread(target=self._run, name="zarchd-status", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def changed(self, *_: Any) -> None:
        """Something changed (a watcher event): refresh soon, off the caller's thread."""
        self._wake.set()

    def after_job(self, chained: Callable[[dict[str, Any]], None] | None) -> Callable[..., None]:
        """An Operations.on_job hook: refresh (in the job's thread, so the job's caller then sees
        its outcome in `status`), then the hook that was there before."""

        def hook(entry: dict[str, Any]) -> None:
            try:
                self.refresh()
            finally:
                if chained is not None:
                    chained(entry)

        return hook

    def refresh(self) -> None:
        """Build the report now. Stats are taken before the build: a change while it runs
        makes the next request see different stats (so stale, and a new refresh), never a
        report that claims to be newer than what it read."""
        with self._refreshing:
            reg_stats, dir_stats = registry_stats(self.ops), backups_stats(self.ops)
            built_at = self.ops.now()
            try:
                report = build_status(self.ops)
            except Exception:  # the refresher must outlive any one failure; the old report stays
                log.exception("refreshing the status report failed")
                return
            registry = report["registry"]
            checked_at = None
            if registry.get("integrity_checked_at") == "now (quick_check)":
                checked_at = built_at
                registry["integrity_checked_at"] = iso(built_at)
            listed_at = iso(built_at)
            if listed_at is not None:
                report["backups"]["listed_at"] = listed_at
            with self._lock:
                self._report = report
                self._reg_stats, self._dir_stats = reg_stats, dir_stats
                self._built_at, self._checked_at = built_at, checked_at
                self.refreshes += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            woken = self._wake.wait(self.period_s)
            if self._stop.is_set():
                return
            if woken:  # let a burst of events settle into one refresh
                self._stop.wait(self.coalesce_s)
                self._wake.clear()
            elif self.settled():
                continue  # nothing moved: no quick_check of an idle registry every minute
            try:
                self.refresh()
            except Exception:  # pragma: no cover - refresh logs its own failures
                log.exception("status refresher")

    def settled(self) -> bool:
        """The kept report is of the files as they are now, and no refresh is asked for."""
        return (
            not self._wake.is_set()
            and not self._refreshing.locked()
            and registry_stats(self.ops) == self._reg_stats
            and backups_stats(self.ops) == self._dir_stats
        )

    # ---- the request path ----------------------------------------------------------------

    def report(
        self, daemon: DaemonInfo, next_run: str | None, *, fresh: bool = False
    ) -> StatusReport:
        """The kept report with the live parts (daemon, next run, ages); stats only. `fresh`
        (health, which decides an exit code and is not polled by 32 clients): when the
        registry or backup directory changed since, rebuild first instead of saying stale."""
        if fresh and (
            registry_stats(self.ops) != self._reg_stats
            or backups_stats(self.ops) != self._dir_stats
        ):
            self.refresh()
        with self._lock:
            kept, reg_stats, dir_stats = self._report, self._reg_stats, self._dir_stats
            checked_at = self._checked_at
            report = _copy(kept) if kept is not None else None
        if report is None:  # no report kept (start() not run, or its build failed): build one
            return build_status(self.ops, daemon, next_run)
        report["daemon"] = daemon
        report["backups"]["next_run"] = next_run
        registry = report["registry"]
        now = self.ops.now()
        # uploads move on without a job or a registry change; a reload may have removed them
        report["remotes"] = remotes_report(self.ops.config, now)
        # Ages are of now, not of when the report was kept: health's "unchecked too long"
        # must fire on an idle registry whose report nobody rebuilt (review, 2026-11-29).
        at = checked_at or parse_iso(registry.get("integrity_checked_at"))
        if at is not None:
            registry["integrity_age_s"] = round((now - at).total_seconds(), 1)
        if registry_stats(self.ops) != reg_stats:
            self._wake.set()
            _mark_stale(registry)
        if backups_stats(self.ops) != dir_stats:
            self._wake.set()  # the listing is the kept one (its listed_at says when) meanwhile
        return report


def _copy(kept: StatusReport) -> StatusReport:
    """A copy of the kept report for one answer: the dicts this module fills in per request
    are copied; the rest (lists of migrations, the latest backup) is shared, read only."""
    report = cast(StatusReport, dict(kept))
    report["registry"] = cast(RegistryReport, dict(kept["registry"]))
    report["backups"] = cast(BackupsReport, dict(kept["backups"]))
    return report


def _mark_stale(registry: Any) -> None:
    """The registry changed (or appeared, or went) since the kept report was built: not known
    to be sound now, whatever it was then."""
    was = registry.get("integrity")
    at = registry.get("integrity_checked_at")
    registry["integrity"] = "unknown"
    registry["integrity_stale"] = True
    registry["integrity_problems"] = [
        f"not checked since it changed (last check {at}: {was}); zarchd is re-checking it"
    ]
