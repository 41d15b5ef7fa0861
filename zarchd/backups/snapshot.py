"""Copy a consistent snapshot of the registry into a fresh temp file, blocking writers briefly.

Two ways, by size:
- small registries (up to `IN_PROCESS_MAX`): `VACUUM INTO` from a read-only connection in this
  process; a progress handler honours cancel and deadline. It takes milliseconds.
- larger ones: a short-lived child process (copychild.py, run as `python -I -S`), because what
  it must do is unsafe in a daemon with other SQLite connections open (closing a descriptor of
  the registry drops every POSIX lock the whole process holds on it, SQLite's too):
  * rollback journal (7zarch-go's mode): the file's bytes under a read transaction (SQLite's
    SHARED lock), with as little as possible done while writers wait (see copychild.py);
  * WAL: the backup API in one step (`pages=-1`) in its own read transaction; WAL writers are
    never blocked by a reader, and commits still in registry.db-wal are in the copy.
  The parent reads how far the copy is (so the hash can follow it), and kills the child on
  cancel or past the deadline (the backup API cannot be interrupted in one step); its locks
  die with it.
A read-only connection never checkpoints the application's WAL, also not when it closes.
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from zarchd.core.errors import BackupError, Cancelled, IntegrityFailure, RegistryError
from zarchd.core.progress import Progress, Stage
from zarchd.db.registry import connect, hot_journal, is_busy

IN_PROCESS_MAX = 16 * 1024 * 1024
PROGRESS_OPS = 10_000  # VM instructions between deadline checks (in-process copy)
POLL_S = 0.05
CANCELLED = "backup cancelled: zarchd is stopping; nothing was published"

CHILD = Path(__file__).with_name("copychild.py")  # run as a file: it imports nothing of ours
Copied = Callable[[int], None]


def copy_snapshot(
    registry: Path,
    tmp: Path,
    *,
    deadline_s: float,
    progress: Progress,
    cancel: threading.Event | None,
    in_process_max: int = IN_PROCESS_MAX,
    copied: Copied | None = None,
) -> str:
    """Copy `registry` into the existing empty temp file `tmp`; how it was copied.

    `copied(n)`: the first n bytes of `tmp` are written for good (told while a large copy runs).

    Cancelled (cancel set, or past the deadline), BackupError (locked, cannot write),
    IntegrityFailure (the registry is damaged). `tmp` is left for the caller to remove.
    """
    total = registry.stat().st_size
    with Stage(progress, "copy", total=total) as stage:
        if total <= in_process_max:
            _vacuum_into(registry, tmp, deadline_s, cancel)
            method = "vacuum"
        else:
            method = _in_child(registry, tmp, deadline_s, stage, cancel, copied or _ignore)
        stage.end(_size(tmp))  # the copy's real size
    return method


def cancelled(cancel: threading.Event | None) -> bool:
    return cancel is not None and cancel.is_set()


def _stopped(registry: Path, deadline_s: float, cancel: threading.Event | None) -> Cancelled:
    if cancelled(cancel):
        return Cancelled(CANCELLED)
    return Cancelled(
        f"backup of {registry} did not finish within {deadline_s:g}s; "
        f"nothing was published (raise the deadline or check the disk)"
    )


def _locked(registry: Path) -> BackupError:
    return BackupError(f"the registry {registry} stayed locked by another process; try again later")


def _cannot_write(tmp: Path, text: str) -> BackupError:
    hint = (
        "a failing disk?" if "Errno 5]" in text or "I/O" in text else "disk full or no permission?"
    )
    return BackupError(
        f"cannot write the backup in {tmp.parent}: {text} ({hint}); older backups are intact"
    )


def damaged(exc: object, registry: Path) -> BackupError | IntegrityFailure:
    told = hot_journal(registry, exc)
    if told is not None:  # not damage: recover would refuse
        return BackupError(f"{told}; no backup taken, older backups are intact")
    return IntegrityFailure(f"registry is damaged, no backup taken ({exc}); run `zarchctl recover`")


def _ignore(_done: int) -> None:
    pass


def _in_child(
    registry: Path,
    tmp: Path,
    deadline_s: float,
    stage: Stage,
    cancel: threading.Event | None,
    copied: Copied,
) -> str:
    stop_at = time.monotonic() + deadline_s
    timeout = max(0.1, min(deadline_s / 2, 30.0))  # "locked" is told before the deadline hits
    argv = [sys.executable, "-I", "-S", str(CHILD), str(registry), str(tmp), f"{timeout:g}"]
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    told: dict[str, str] = {}  # its last `size`, `done` and `method`

    def read_lines() -> None:  # `size N`, `done N` as the copy goes, then `method NAME`
        assert proc.stdout is not None
        for raw in proc.stdout:
            key, _, value = raw.decode(errors="replace").strip().partition(" ")
            told[key] = value
            if key == "done":
                stage.update(int(value))
                copied(int(value))

    reader = threading.Thread(target=read_lines, name="zarchd-copy-out", daemon=True)
    reader.start()
    try:
        # Its stdout ends when it exits: joining the reader wakes at once then (Popen.wait with
        # a timeout polls, and slept ~10 ms past the end of every copy).
        while reader.is_alive() or proc.poll() is None:
            if cancelled(cancel) or time.monotonic() > stop_at:
                raise _stopped(registry, deadline_s, cancel)
            if reader.is_alive():
                reader.join(POLL_S)
            else:  # its stdout closed: it is exiting (or closed it and goes on: poll it)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=POLL_S)
    finally:
        if proc.returncode is None:  # stopped (or interrupted): its locks die with it
            proc.kill()
            proc.wait()
        reader.join()
        assert proc.stderr is not None
        err = proc.stderr.read()
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()
    text = err.decode(errors="replace").strip()[-300:]
    if proc.returncode == 0 and "method" in told:
        _check_complete(registry, tmp, told)
        return told["method"]
    if proc.returncode == 7:
        raise BackupError(
            f"cannot read the registry {registry}: {text}; no backup taken, older backups "
            "are intact"
        )
    if proc.returncode < 0:
        raise BackupError(
            f"the copy of {registry} was killed by {_signal_name(-proc.returncode)} (out of "
            "memory, or an I/O error on the backup disk?); nothing was published"
        )
    if proc.returncode == 3:
        raise _locked(registry)
    if proc.returncode == 4:
        raise damaged(text, registry)
    if proc.returncode == 5:
        raise _cannot_write(tmp, text)
    if proc.returncode == 6:
        raise BackupError(f"{text}; try again")
    raise BackupError(f"the copy of {registry} failed (exit {proc.returncode}): {text}")


def _check_complete(registry: Path, tmp: Path, told: dict[str, str]) -> None:
    """The copy holds every byte the registry had under the lock: the child said `size N` (not
    in WAL mode), and both its last `done` and the file agree. A short copy would read as a
    sound, smaller (or empty) database."""
    if "size" not in told:
        return
    want, done, have = int(told["size"]), int(told.get("done") or 0), _size(tmp)
    if want != done or want != have:
        raise BackupError(
            f"the copy of {registry} is incomplete ({have} of {want} bytes); nothing was "
            "published, older backups are intact"
        )


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _vacuum_into(
    registry: Path, tmp: Path, deadline_s: float, cancel: threading.Event | None
) -> None:
    stop_at = time.monotonic() + deadline_s

    def stop() -> int:  # non-zero aborts VACUUM INTO with "interrupted"
        return 1 if cancelled(cancel) or time.monotonic() > stop_at else 0

    try:
        src = connect(registry, readonly=True, timeout=max(0.1, min(deadline_s, 30.0)))
    except RegistryError as exc:
        raise BackupError(exc.message) from exc
    try:
        src.set_progress_handler(stop, PROGRESS_OPS)
        src.execute("VACUUM INTO ?", (str(tmp),))
    except sqlite3.OperationalError as exc:
        text = str(exc)
        if "interrupted" in text:
            raise _stopped(registry, deadline_s, cancel) from exc
        if "full" in text or "I/O" in text or "unable to open" in text:
            raise _cannot_write(tmp, text) from exc
        if is_busy(exc):
            raise _locked(registry) from exc
        raise damaged(exc, registry) from exc
    except sqlite3.DatabaseError as exc:
        raise damaged(exc, registry) from exc
    finally:
        src.close()
