"""The daemon's remote side: one thread per remote, each running its RemoteWorker.

`enqueue` only writes the queue and wakes the threads, so the backup that calls it never waits on
an upload. Each thread sends what is due, then does the upkeep (retention, a due deep check,
cleanup), then sleeps until the next retry time, an hour, or a wake-up. `stop` sets a flag that
also stops a running rclone child (Rclone.cancel), so shutdown stays within its bound.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, tzinfo

from zarchd.backups.listing import list_backups
from zarchd.backups.meta import read_sidecar
from zarchd.core.config import Config
from zarchd.core.errors import ZarchError
from zarchd.remote.book import UploadBook
from zarchd.remote.rclone import Rclone
from zarchd.remote.target import RemoteTarget
from zarchd.remote.worker import RemoteWorker

log = logging.getLogger(__name__)
IDLE_S = 3600.0  # upkeep at least this often while nothing is queued


class RemoteRunner:
    def __init__(self, cfg: Config, now: Callable[[], datetime], tz: tzinfo | None = None) -> None:
        self.config = cfg
        self.now = now
        stem = cfg.registry_path.stem
        self.book = UploadBook(cfg.state_dir, cfg.backup_dir, stem)
        self._stop = threading.Event()
        local_tz = tz or datetime.now().astimezone().tzinfo
        assert local_tz is not None
        self.workers: dict[str, RemoteWorker] = {}
        self._wake: dict[str, threading.Event] = {}
        for remote in cfg.remotes:
            target = RemoteTarget(remote, None, stem, rclone=Rclone(remote, cancel=self._stop))
            self.workers[remote.name] = RemoteWorker(
                remote, target, self.book, cfg.remote_retention(remote), local_tz, now
            )
            self._wake[remote.name] = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Queue the newest verified local backup (a remote added since is filled at once; one
        already there is not sent again), make what waits due now, start one thread per remote."""
        newest = self._newest_local()
        if newest is not None:
            self.enqueue(newest)
        for name in self.workers:
            self.book.retry_now(name)  # a start (after sleep, a new network) is worth a try now
            t = threading.Thread(
                target=self._loop, args=(name,), name=f"remote-{name}", daemon=True
            )
            t.start()
            self._threads.append(t)

    def _newest_local(self) -> str | None:
        try:
            found = list_backups(self.config.registry_path, self.config.backup_dir)
        except (ZarchError, OSError) as exc:  # the daemon's own checks report this one
            log.warning("remotes: cannot list local backups (%s)", exc)
            return None
        good = [b for b in found if b.ours and b.verified and not b.untrusted]
        return max(good, key=lambda b: b.created_at).name if good else None

    def enqueue(self, name: str) -> bool:
        """Queue the verified local backup `name` for every remote; False if it is not one."""
        meta = read_sidecar(self.config.backup_dir / name)
        if not self.workers or meta is None or meta.get("verified") is not True:
            return False
        self.book.add(list(self.workers), name, str(meta.get("sha256")), self.now())
        for event in self._wake.values():
            event.set()
        return True

    def job_recorded(self, entry: dict[str, object]) -> None:
        """Operations' job callback: a successful backup is queued (called in the job's thread:
        only writes the queue file)."""
        if entry.get("job") == "backup" and entry.get("ok") and entry.get("name"):
            self.enqueue(str(entry["name"]))

    def wake(self, name: str | None = None) -> None:
        for key, event in self._wake.items():
            if name is None or key == name:
                self.book.retry_now(key)
                event.set()

    def _loop(self, name: str) -> None:
        worker, wake = self.workers[name], self._wake[name]
        last_upkeep: datetime | None = None
        while not self._stop.is_set():
            wake.clear()
            try:
                handled = worker.drain()
                now = self.now()
                if self._stop.is_set():
                    break
                if handled or last_upkeep is None or (now - last_upkeep).total_seconds() >= IDLE_S:
                    worker.maintain()
                    last_upkeep = now
                nxt = self.book.next_due(name)
                wait = IDLE_S if nxt is None else (nxt - self.now()).total_seconds()
            except Exception:  # a bug must not end the thread silently: logged, retried later
                log.exception("remote %s: unexpected error", name)
                wait = 60.0
            wake.wait(max(1.0, min(IDLE_S, wait)))

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        for event in self._wake.values():
            event.set()
        for t in self._threads:
            t.join(timeout)

    def queue_length(self, name: str) -> int:
        return len(self.book.entries(name))
