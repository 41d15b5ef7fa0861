"""The single-writer lock: one daemon per registry, and `--local` writers take the same lock.

An flock on a file next to the registry, so it holds across users and state dirs; the kernel
drops it when the holder dies, so a crash never leaves a stale lock. The file holds the pid.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

from .errors import LockHeld, RegistryError


def lock_path(registry: Path) -> Path:
    return registry.with_name(f".{registry.name}.zarchd.lock")


class WriterLock:
    def __init__(self, registry: Path, role: str = "zarchctl --local") -> None:
        self.path = lock_path(registry)
        self.role = role
        self._fd: int | None = None

    def acquire(self) -> "WriterLock":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise RegistryError(f"cannot create the writer lock {self.path}: "
                                f"{exc.strerror or exc}") from exc
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

    def _held_message(self) -> str:
        try:
            pid, _, role = self.path.read_text().strip().partition(" ")
        except OSError:
            pid, role = "?", ""
        who = "the zarchd daemon" if role == "zarchd" else (role or "another process")
        hint = ("; ask it through zarchctl without --local" if role == "zarchd"
                else "; wait for it to finish")
        return f"{who} (pid {pid}) holds the registry's writer lock {self.path}{hint}"

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "WriterLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder_pid(registry: Path) -> int | None:
    """The pid written by the current holder, or None when nobody holds the lock."""
    path = lock_path(registry)
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            text = path.read_text().split()
            return int(text[0]) if text and text[0].isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
