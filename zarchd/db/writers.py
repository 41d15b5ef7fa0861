"""Which other processes have the registry open for writing (Linux: /proc/<pid>/fd + fdinfo).

Only stat() of /proc's fd links and reads of /proc files: the registry itself is never opened.
Processes of other users are not visible without privileges; other platforms tell nothing,
which callers treat as "none seen".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")


@dataclass(frozen=True)
class Writer:
    pid: int
    command: str

    def __str__(self) -> str:
        return f"pid {self.pid} ({self.command})"


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _writable(pid: str, fd: str) -> bool:
    try:
        text = (_PROC / pid / "fdinfo" / fd).read_text()
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags:"):
            return int(line.split()[1], 8) & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR)
    return False


def _command(pid: str) -> str:
    try:
        return (_PROC / pid / "comm").read_text().strip() or "?"
    except OSError:
        return "?"


def open_for_writing(paths: list[Path]) -> list[Writer]:
    """Other processes holding any of `paths` open for writing, by pid; [] when unknown."""
    wanted = {ident for ident in map(_identity, paths) if ident is not None}
    if not wanted or not _PROC.is_dir():
        return []
    found: list[Writer] = []
    own = str(os.getpid())
    try:
        pids = [p for p in os.listdir(_PROC) if p.isdigit() and p != own]
    except OSError:
        return []
    for pid in pids:
        try:
            fds = os.listdir(_PROC / pid / "fd")
        except OSError:  # gone, or another user's
            continue
        for fd in fds:
            if _identity(_PROC / pid / "fd" / fd) in wanted and _writable(pid, fd):
                found.append(Writer(int(pid), _command(pid)))
                break
    return found
