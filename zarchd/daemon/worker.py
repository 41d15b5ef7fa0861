"""A background worker with a bounded queue: alerts run here, so a slow hook or an unreachable
ping URL never holds up a backup. A full queue drops the new task (logged) instead of growing
without end or blocking the job that queued it."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

Task = tuple[str, Callable[[], object]]


class Worker:
    def __init__(self, name: str, *, limit: int = 100) -> None:
        self.name = name
        self.stopping = threading.Event()  # tasks waiting between retries watch it
        self._queue: queue.Queue[Task | None] = queue.Queue(maxsize=limit)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, what: str, task: Callable[[], object]) -> bool:
        """Queue `task`; False (and a warning) when the queue is full or the worker stopped."""
        if self.stopping.is_set():
            return False
        try:
            self._queue.put_nowait((what, task))
        except queue.Full:
            log.warning("%s: too much pending, dropped: %s", self.name, what)
            return False
        return True

    def stop(self, timeout: float) -> None:
        """Finish what is queued within `timeout`; whatever is left is abandoned (the thread is
        a daemon thread, so it never keeps the process alive)."""
        self.stopping.set()
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            what, task = item
            try:
                task()
            except Exception:  # one broken alert must not end the worker
                log.exception("%s: %s failed", self.name, what)
