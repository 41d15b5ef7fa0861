"""Progress reports from long work: plain dicts, so they travel over the socket unchanged.

A report belongs to a named stage ("copy", "fsync", "check", "hash", "replace", "migrate", ...)
and says where that stage is:

    {"stage": "copy", "phase": "start" | "update" | "end",
     "unit": "bytes" | "rows" | "migrations" | ..., "done": int, "total": int | None,
     "of": "what the stage works on (a backup name, a migration id)" | absent}

`done` never goes backwards within a stage; `total` is None when the size is not known in
advance; a stage with no progress to report inside (an integrity check) sends only its start
and its end. Reports without a `phase` (the control server's keep-alive) say only "still busy".
`Stage` is the one way work sends these, so every stage keeps the rules.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

Progress = Callable[[dict[str, Any]], None]

# Updates a stage sends at most (plus start and end): enough for a smooth bar, few enough for
# the socket when a 300 MB file is hashed in 1 MiB chunks.
UPDATES_PER_STAGE = 200
UNKNOWN_TOTAL_STEP = 4 << 20  # with no total: an update every 4 MiB (or 4 Mi rows)


def no_progress(event: dict[str, Any]) -> None:
    """The default sink: long work reports, nobody listens."""


class Stage:
    """One stage of long work, used as `with Stage(progress, "hash", total=n) as s: s.update(k)`.

    Sends "start" on entry and "end" when the block finishes without an exception (a failed
    stage is not finished; the view clears it). `update` drops values that would go backwards
    and sends at most UPDATES_PER_STAGE reports.
    """

    def __init__(
        self,
        progress: Progress,
        name: str,
        *,
        total: int | None = None,
        unit: str = "bytes",
        of: str | None = None,
    ) -> None:
        self.progress = progress
        self.name = name
        self.total = total
        self.unit = unit
        self.of = of
        self.done = 0
        self._sent = 0
        self._ended = False
        self._step = UNKNOWN_TOTAL_STEP

    def _send(self, phase: str, **extra: Any) -> None:
        event: dict[str, Any] = {
            "stage": self.name,
            "phase": phase,
            "unit": self.unit,
            "done": self.done,
            "total": self.total,
        }
        if self.of is not None:
            event["of"] = self.of
        event.update(extra)
        self.progress(event)

    def __enter__(self) -> Stage:
        return self.start()

    def start(self) -> Stage:
        """Send "start" (for a stage that is not a `with` block: call `end` when it is done)."""
        # The total may be set between construction and entry (once the work has measured it).
        if self.total:
            self._step = max(1, self.total // UPDATES_PER_STAGE)
        self._send("start")
        return self

    def update(self, done: int, **extra: Any) -> None:
        if done <= self.done:
            return  # never backwards, and nothing new to say
        self.done = done if self.total is None else min(done, self.total)
        if self.done - self._sent >= self._step:
            self._sent = self.done
            self._send("update", **extra)

    def end(self, done: int | None = None) -> None:
        """Finish; `done` (the real size, known only now) also becomes the total."""
        if self._ended:
            return
        self._ended = True
        if done is not None:
            self.done = max(self.done, done)
            self.total = self.done
        elif self.total is not None:
            self.done = self.total
        self._send("end")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.end()
