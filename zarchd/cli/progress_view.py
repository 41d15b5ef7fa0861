"""Progress for people: live stage lines on a terminal, plain lines otherwise, nothing with --json.

Reads the stage reports of core/progress.py. On a terminal every running stage has one line,
redrawn in place at most 1/TICK_S times a second by a ticker thread (so elapsed time and the
spinner move even while SQLite reports nothing, as in an integrity check):

    [0:03] copy 42.0 MiB / 109 MiB  38.5 MiB/s  ETA 0:02
    [0:41] check registry-20260314-120000-zarchd.bak  ⠹ 0:38

A finished stage is left as one line ("copy 109 MiB in 2.8s, 38.5 MiB/s"): that record says
where the time went, and a backup or restore has only a handful of stages. The running lines
are erased at the end so the result prints clean. Not a terminal: one plain line when a stage
starts and one when it ends, never a carriage return. Progress goes to stderr so stdout stays
the command's result.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from zarchd.core.textsafe import escape_controls

TICK_S = 0.1  # at most ten redraws a second
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
ERASE_DOWN = "\x1b[J"  # erase from the cursor to the end of the screen


@dataclass
class _Stage:
    name: str
    of: str
    unit: str
    done: int
    total: int | None
    started: float


class ProgressView:
    """A progress sink for the CLI. `show=False` (--json, --quiet, --no-progress) prints nothing.

    `clock` (monotonic seconds) and `ticker=False` let tests drive time and redraws themselves.
    """

    def __init__(
        self,
        *,
        show: bool = True,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        ticker: bool = True,
    ) -> None:
        self.stream = stream or sys.stderr
        self.show = show
        self.tty = show and _isatty(self.stream)
        self.clock = clock
        self._use_ticker = ticker
        self._lock = threading.Lock()
        self._stages: dict[str, _Stage] = {}  # running, in start order
        self._finished: list[str] = []  # lines not yet written above the running ones
        self._drawn = 0  # running lines on screen now (the cursor ends the last of them)
        self._dirty = False
        self._last_draw = float("-inf")
        self._t0: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._routed: list[logging.StreamHandler[Any]] = []

    # ---- events ------------------------------------------------------------------------------

    def __call__(self, event: dict[str, Any]) -> None:
        if not self.show or event.get("phase") not in ("start", "update", "end"):
            return  # no phase: a keep-alive ("still working") or an inner note; the clock ticks
        with self._lock:
            now = self.clock()
            if self._t0 is None:
                self._t0 = now
            line = self._apply(event, now)
            if not self.tty:
                if line is not None:
                    self.stream.write(line + "\n")
                    self.stream.flush()
                return
            self._dirty = True
            if now - self._last_draw >= TICK_S:
                self._draw(now)
        if self.tty and self._use_ticker and self._thread is None:
            self._thread = threading.Thread(target=self._tick_loop, name="progress", daemon=True)
            self._thread.start()

    def _apply(self, event: dict[str, Any], now: float) -> str | None:
        """Update the running stages; the plain line this event makes, if any."""
        name = str(event.get("stage", "working"))
        phase = event["phase"]
        stage = self._stages.get(name)
        if phase == "start" or stage is None:
            if stage is not None:  # started again without an end: the old one is over
                self._finish(stage, now)
            stage = _Stage(
                name=name,
                of=str(event.get("of") or ""),
                unit=str(event.get("unit") or ""),
                done=0,
                total=None,
                started=now,
            )
            self._stages[name] = stage
        if event.get("of"):
            stage.of = str(event["of"])
        done, total = event.get("done"), event.get("total")
        if isinstance(total, int) and total > 0:
            stage.total = total
        if isinstance(done, int):
            stage.done = max(stage.done, done)  # never backwards within a stage
        if phase == "end":
            del self._stages[name]
            return self._finish(stage, now)
        if phase == "start" and not self.tty:
            size = f", {_amount(stage.total, stage.unit)}" if stage.total else ""
            return f"{self._stamp(now)} {_title(stage)} started{size}"
        return None

    def _finish(self, stage: _Stage, now: float) -> str:
        line = f"{self._stamp(now)} {_title(stage)} {_summary(stage, now)}"
        self._finished.append(line)
        return line

    # ---- terminal ----------------------------------------------------------------------------

    def _stamp(self, now: float) -> str:
        return f"[{_clock_time(now - (self._t0 if self._t0 is not None else now))}]"

    def live_lines(self, now: float) -> list[str]:
        return [f"{self._stamp(now)} {_title(s)} {_running(s, now)}" for s in self._stages.values()]

    def _draw(self, now: float) -> None:
        width = _width(self.stream)
        parts = [self._home()]
        for line in self._finished:
            parts.append(_fit(line, width) + "\n")
        self._finished.clear()
        live = [_fit(line, width) for line in self.live_lines(now)]
        parts.append("\n".join(live))
        self._drawn = len(live)
        self.stream.write("".join(parts))
        self.stream.flush()
        self._dirty = False
        self._last_draw = now

    def _home(self) -> str:
        """Back to the start of the running lines, and erase them."""
        up = f"\x1b[{self._drawn - 1}A" if self._drawn > 1 else ""
        return (up + "\r" + ERASE_DOWN) if self._drawn else ""

    def route_logging(self, logger: logging.Logger) -> None:
        """Log lines written to our terminal go above the running lines, not into them."""
        if not self.tty:
            return  # plain lines and log lines interleave cleanly as they are
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is self.stream:
                handler.setStream(_Above(self))
                self._routed.append(handler)

    def print_above(self, text: str) -> None:
        with self._lock:
            if not self._drawn:
                self.stream.write(text)
                self.stream.flush()
                return
            self.stream.write(self._home() + text)
            self._drawn = 0
            self._draw(self.clock())

    def tick(self) -> None:
        """Redraw (the ticker thread calls this): the elapsed time and spinner move on."""
        with self._lock:
            if self.tty and (self._stages or self._dirty):
                self._draw(self.clock())

    def _tick_loop(self) -> None:
        while not self._stop.wait(TICK_S):
            self.tick()

    def close(self) -> None:
        """Stop redrawing, leave the finished lines, erase the running ones."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        for handler in self._routed:
            handler.setStream(self.stream)
        self._routed.clear()
        with self._lock:
            if not self.tty:
                return
            if self._drawn or self._finished:
                width = _width(self.stream)
                text = "".join(_fit(line, width) + "\n" for line in self._finished)
                self.stream.write(self._home() + text)
                self.stream.flush()
            self._finished.clear()
            self._stages.clear()
            self._drawn = 0


class _Above(io.TextIOBase):
    """The stream a routed log handler writes to."""

    def __init__(self, view: ProgressView) -> None:
        self.view = view

    def write(self, text: str) -> int:
        self.view.print_above(text)
        return len(text)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _width(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


def _fit(line: str, width: int) -> str:
    # A line that wraps would break the count of lines to go back up over.
    return line if len(line) < width else line[: max(width - 2, 10)] + "…"


def _title(stage: _Stage) -> str:
    text = f"{stage.name} {stage.of}" if stage.of else stage.name
    return escape_controls(text)  # names of backups and migrations may carry control chars


def _running(stage: _Stage, now: float) -> str:
    elapsed = now - stage.started
    if stage.done <= 0:  # nothing measurable yet: say it is alive, and for how long
        spin = SPINNER[round(elapsed / TICK_S) % len(SPINNER)]
        return f"{spin} {_clock_time(elapsed)}"
    if not stage.total:
        text = _amount(stage.done, stage.unit)
    elif stage.unit == "bytes":
        text = f"{_bytes(stage.done)} / {_bytes(stage.total)}"
    else:  # "1 / 3 migrations"
        text = f"{stage.done:,} / {_amount(stage.total, stage.unit)}"
    rate = stage.done / elapsed if elapsed > 0 else 0.0
    if rate > 0 and stage.unit != "migrations":  # migrations differ too much for a rate
        text += f"  {_rate(rate, stage.unit)}"
        if stage.total:
            text += f"  ETA {_clock_time(max(stage.total - stage.done, 0) / rate)}"
    return text


def _summary(stage: _Stage, now: float) -> str:
    took = now - stage.started
    if stage.done <= 0:
        return f"done in {_duration(took)}"
    text = f"{_amount(stage.done, stage.unit)} in {_duration(took)}"
    if took > 0 and stage.unit != "migrations":
        text += f", {_rate(stage.done / took, stage.unit)}"
    return text


def _amount(n: int | None, unit: str) -> str:
    if n is None:
        return "?"
    if unit == "bytes":
        return _bytes(float(n))
    return f"{n:,} {unit}".rstrip()


def _rate(per_s: float, unit: str) -> str:
    if unit == "bytes":
        return f"{_bytes(per_s)}/s"
    number = f"{per_s:,.0f}" if per_s >= 100 else f"{per_s:.1f}"
    return f"{number} {unit}/s" if unit else f"{number}/s"


def _bytes(n: float) -> str:
    """Three significant digits in binary units: 512 B, 42.0 MiB, 109 MiB, 1.25 GiB."""
    if n < 1024:
        return f"{n:.0f} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        n /= 1024
        if n < 1000 or unit == "TiB":
            break
    if n < 10:
        return f"{n:.2f} {unit}"
    return f"{n:.1f} {unit}" if n < 100 else f"{n:.0f} {unit}"


def _clock_time(seconds: float) -> str:
    s = int(seconds)
    return (
        f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f}s"
    return f"{seconds:.0f}s" if seconds < 60 else _clock_time(seconds)
