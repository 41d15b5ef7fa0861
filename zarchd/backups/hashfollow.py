"""The sha256 of a copy hashed while it is still being written, front to back.

The copy child reports how far the copy is (`done N`: the first N bytes are in the file for
good); a thread hashes up to there from the page cache while the rest is copied. A large backup's
hash then costs little after the copy, and the core it used is free for the check.
Bytes are only read below what was reported, and the hash is only handed out once the whole
file, at its final size, went through it. With one CPU the hash waits for the copy instead: it
would take the CPU from the copy while writers wait for the copy to end.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from types import TracebackType

from zarchd.core.fsutil import open_trusted

CHUNK = 1 << 20


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # what this process may use (taskset, cgroups)
    except AttributeError:  # not on macOS
        return os.cpu_count() or 1


class HashFollower:
    """Use as a context manager; `advance(n)` from the copier, `result(size)` when it is done."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._cond = threading.Condition()
        self._done = 0  # bytes that may be hashed
        self._final: int | None = None  # the file's final size, once known
        self._stop = False
        self._error: BaseException | None = None
        self._digest = hashlib.sha256()
        self._hashed = 0
        self._thread: threading.Thread | None = None
        self._follow = _cpus() >= 2

    def __enter__(self) -> HashFollower:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()

    def advance(self, done: int) -> None:
        """The first `done` bytes of the file are written for good."""
        if not self._follow:
            return
        with self._cond:
            if done <= self._done:
                return
            self._done = done
            self._cond.notify_all()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="zarchd-hash", daemon=True)
            self._thread.start()

    def result(self, size: int) -> str:
        """sha256 of the whole file, `size` bytes; OSError as reading it raised."""
        with self._cond:
            self._final = size
            self._done = size
            self._cond.notify_all()
        if self._thread is None:
            self._run()
        else:
            self._thread.join()
        if self._error is not None:
            raise self._error
        if self._hashed != size:
            raise OSError(f"the copy {self._path} has {self._hashed} bytes, not {size}")
        return self._digest.hexdigest()

    def _run(self) -> None:
        try:
            fd = open_trusted(self._path, os.O_RDONLY, "the backup copy")
        except BaseException as exc:  # handed to result()
            self._error = exc
            return
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        try:
            while True:
                with self._cond:
                    while self._hashed >= self._done and self._final is None and not self._stop:
                        self._cond.wait()
                    if self._stop or (self._final is not None and self._hashed >= self._final):
                        return
                    upto = self._done
                want = min(CHUNK, upto - self._hashed)
                n = os.preadv(fd, [view[:want]], self._hashed)
                if n <= 0:  # shorter than reported: result() says so
                    return
                self._digest.update(view[:n])
                self._hashed += n
        except BaseException as exc:  # handed to result()
            self._error = exc
        finally:
            view.release()
            os.close(fd)
