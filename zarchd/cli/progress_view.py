"""Progress for people: a bar on a terminal, plain lines otherwise, nothing with --json.

Progress goes to stderr so stdout stays the command's result.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from zarchd.core.textsafe import escape_controls


class ProgressView:
    def __init__(self, *, enabled: bool, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty()
        self._last_line = ""
        self._last_plain = 0.0
        self._open_bar = False

    def __call__(self, event: dict[str, Any]) -> None:
        if not self.enabled:
            return
        line = escape_controls(describe(event))  # names in events may carry control chars
        if self.tty:
            self._bar(event, line)
        elif line != self._last_line and (
            time.monotonic() - self._last_plain >= 1.0 or _finished(event)
        ):
            # Plain lines for logs and pipes, at most one a second per stage.
            print(line, file=self.stream, flush=True)
            self._last_plain = time.monotonic()
        self._last_line = line

    def _bar(self, event: dict[str, Any], line: str) -> None:
        done, total = event.get("done"), event.get("total")
        if isinstance(done, (int, float)) and isinstance(total, (int, float)) and total > 0:
            frac = min(max(done / total, 0.0), 1.0)
            width = 30
            filled = int(frac * width)
            text = f"\r[{'#' * filled}{'.' * (width - filled)}] {frac * 100:5.1f}% {line[:60]}"
        else:
            text = f"\r{line[:90]}"
        self.stream.write(text.ljust(100))
        self.stream.flush()
        self._open_bar = True

    def close(self) -> None:
        if self._open_bar:
            self.stream.write("\n")
            self.stream.flush()
            self._open_bar = False


def _finished(event: dict[str, Any]) -> bool:
    return event.get("done") is not None and event.get("done") == event.get("total")


def describe(event: dict[str, Any]) -> str:
    stage = str(event.get("stage", "working"))
    parts = [stage]
    for key in ("migration", "name", "message"):
        if event.get(key):
            parts.append(str(event[key]))
    done, total = event.get("done"), event.get("total")
    if done is not None and total:
        parts.append(f"{done}/{total}")
    return " ".join(parts)
