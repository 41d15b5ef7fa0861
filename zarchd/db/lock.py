"""The single-writer lock: one daemon per registry, and `--local` writers take the same lock.

An flock on a file next to the registry, so it holds across users and state dirs; the kernel
drops it when the holder dies, so a crash never leaves a stale lock. The file holds the pid.

The lock file sits next to the registry's REAL path (symlinks resolved), so a daemon naming the
registry through a symlink and one naming the real file share one lock. The directory may be
writable by other users: the file is opened with O_NOFOLLOW, must be a regular file with one link
owned by us or root, and is truncated through the checked descriptor only (never O_TRUNC).
A holder re-checks (`still_held`) that the path still names the file it locked: a lock file
deleted with its directory would otherwise let a second daemon in.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
from collections.abc import Callable
from pathlib import Path

from zarchd.core.errors import LockHeld, RegistryError, UnsafePath
from zarchd.core.fsutil import open_trusted

MAX_LOCK_TEXT = 4096


def lock_path(registry: Path) -> Path:
    real = Path(os.path.realpath(registry.expanduser()))
    return real.with_name(f".{real.name}.zarchd.lock")


class WriterLock:
    def __init__(self, registry: Path, role: str = "zarchctl --local") -> None:
        self.path = lock_path(registry)
        self.role = role
        self._fd: int | None = None

    def acquire(self) -> WriterLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = open_trusted(
                self.path, os.O_RDWR | os.O_CREAT, "the writer lock", single_link=True
            )
        except UnsafePath as exc:
            raise UnsafePath(f"{exc.message} (zarchd never writes through it)") from None
        except OSError as exc:
            raise RegistryError(
                f"cannot create the writer lock {self.path}: {exc.strerror or exc}"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise LockHeld(self._held_message()) from None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {self.role}\n".encode())
        self._fd = fd
        return self

    def still_held(self) -> bool:
        """True while the lock file's path still names the file we hold locked."""
        if self._fd is None:
            return False
        try:
            here = os.lstat(self.path)
        except OSError:
            return False
        held = os.fstat(self._fd)
        return (here.st_dev, here.st_ino) == (held.st_dev, held.st_ino)

    def _held_message(self) -> str:
        text = _read_lock_text(self.path)
        pid, _, role = (text or "?").strip().partition(" ")
        who = "the zarchd daemon" if role == "zarchd" else (role or "another process")
        hint = (
            "; ask it through zarchctl without --local"
            if role == "zarchd"
            else "; wait for it to finish"
        )
        return f"{who} (pid {pid or '?'}) holds the registry's writer lock {self.path}{hint}"

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_lock_text(path: Path) -> str | None:
    """The holder's "pid role" line, read without following a symlink; None if unreadable."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        return os.read(fd, MAX_LOCK_TEXT).decode("utf-8", "replace")
    except OSError:
        return None
    finally:
        os.close(fd)


class GuardedRLock:
    """A re-entrant lock whose `with` first runs `guard` (set by the daemon: are we still the
    registry's only writer?); a guard that raises leaves the lock free again."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.guard: Callable[[], None] | None = None

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> GuardedRLock:
        self._lock.acquire()
        if self.guard is not None:
            try:
                self.guard()
            except BaseException:
                self._lock.release()
                raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
