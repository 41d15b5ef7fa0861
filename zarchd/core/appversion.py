"""The version that decides when to migrate: zarchd's own plus the application's version file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from zarchd import __version__

MAX_BYTES = 4096  # a version is a line; more is not one (a planted /dev/zero link reads for ever)


def app_version(version_file: Path | None) -> str:
    """'0.1.0' or '0.1.0+<file content>'; an unreadable or missing file counts as absent, and
    so does anything but a regular file (a FIFO put there would block every reader)."""
    if version_file is None:
        return __version__
    try:
        fd = os.open(version_file, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return __version__
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return __version__
        text = os.read(fd, MAX_BYTES).decode("utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return __version__
    finally:
        os.close(fd)
    return f"{__version__}+{text}" if text else __version__
