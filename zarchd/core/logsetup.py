"""Logging to stderr in a form journald and `log show` read well: level and logger, no timestamps
when journald adds its own (JOURNAL_STREAM set), timestamps otherwise."""

from __future__ import annotations

import logging
import os
import sys

from zarchd.core.textsafe import escape_controls


def setup(level: str) -> None:
    if os.environ.get("JOURNAL_STREAM"):
        fmt = "<%(levelno_sd)s>%(name)s: %(message)s"
    else:
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # APScheduler is chatty at INFO about every run; our own jobs log what matters.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("watchdog").setLevel(max(logging.WARNING, root.level))


_SD_LEVEL = {
    logging.DEBUG: 7,
    logging.INFO: 6,
    logging.WARNING: 4,
    logging.ERROR: 3,
    logging.CRITICAL: 2,
}


class SafeFormatter(logging.Formatter):
    """One record, one line: a path with a newline or an escape sequence in it cannot forge log
    lines or drive the terminal. Tracebacks (exc_text) are appended after this, unchanged."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.message)
        return super().formatMessage(record)


class _Formatter(SafeFormatter):
    def format(self, record: logging.LogRecord) -> str:
        record.levelno_sd = _SD_LEVEL.get(record.levelno, 6)  # sd-daemon(3) priority prefix
        return super().format(record)


def set_level(level: str) -> None:
    logging.getLogger().setLevel(level.upper())
