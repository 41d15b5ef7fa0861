"""fsync of a large new file in small steps, so an application's commits never queue behind it.

One fsync of a 100 MB copy puts all of it in flight at once, and every fsync the application
makes meanwhile (7zarch-go commits with two or three) waits for the device to take all of it:
measured at 109 MB, a WAL writer's worst commit went from 14 ms (no flush) to 71 ms with one
fsync and 29 ms when the copy was written out 16 MiB at a time (medians of 9). Steps of 4 MiB:
a rollback-journal commit fsyncs two or three times, each behind at most one step. Each step is
written and waited for (Linux sync_file_range), then one fsync makes the file and its metadata
durable as before; the whole takes about as long as one fsync. Elsewhere it is the plain fsync.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path

from zarchd.core.fsutil import SAFE_FLAGS

STEP = 4 * 1024 * 1024
# SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER
WRITE_AND_WAIT = 1 | 2 | 4

_Ranged = Callable[[int, int, int, int], int]


@functools.cache
def _sync_file_range() -> _Ranged | None:
    """libc's sync_file_range, loaded on first use (ctypes is not worth importing at start)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)  # this process's libc
        fn = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


def fsync_in_steps(path: Path, step: int = STEP) -> None:
    """Write `path` out `step` bytes at a time, then fsync it; OSError as fsync would raise."""
    fd = os.open(path, os.O_RDONLY | SAFE_FLAGS)
    try:
        ranged = _sync_file_range()
        if ranged is not None:
            size = os.fstat(fd).st_size
            for offset in range(0, size, step):
                if ranged(fd, offset, min(step, size - offset), WRITE_AND_WAIT) != 0:
                    import ctypes

                    err = ctypes.get_errno()
                    raise OSError(err, os.strerror(err), str(path))
        os.fsync(fd)  # metadata and the device's cache: the copy is durable only after this
    finally:
        os.close(fd)
