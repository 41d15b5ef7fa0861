"""Copy a consistent snapshot of the registry into a fresh temp file, blocking writers briefly.

Two ways, by size:
- small registries (up to `IN_PROCESS_MAX`): `VACUUM INTO` from a read-only connection in this
  process; a progress handler honours cancel and deadline. It takes milliseconds.
- larger ones: a short-lived child process (`python -I -S`), because what it must do is unsafe
  in a daemon with other SQLite connections open:
  * rollback journal (7zarch-go's mode): it opens a read transaction (SQLite's SHARED lock:
    the file holds exactly the committed data, no writer can change it) and copies the file's
    bytes in the kernel (a copy-on-write clone where the file system offers one, else
    copy_file_range). Writers wait only as long as `cp` of the file takes, not for SQLite's
    page-by-page copy. Closing a descriptor of the registry drops every POSIX lock the whole
    process holds on it (SQLite's too), so this is never done in the daemon itself;
  * WAL: the backup API in one step (`pages=-1`) in its own read transaction; WAL writers are
    never blocked by a reader, and commits still in registry.db-wal are in the copy.
  The parent waits for it, reports the bytes copied, and kills it on cancel or past the
  deadline (the backup API cannot be interrupted from its progress callback in one step);
  its locks die with it.
A read-only connection never checkpoints the application's WAL, also not when it closes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from zarchd.core.errors import BackupError, Cancelled, IntegrityFailure, RegistryError
from zarchd.core.progress import Progress, Stage
from zarchd.db.registry import connect, is_busy

IN_PROCESS_MAX = 16 * 1024 * 1024
PROGRESS_OPS = 10_000  # VM instructions between deadline checks (in-process copy)
POLL_S = 0.05
CANCELLED = "backup cancelled: zarchd is stopping; nothing was published"

# Exit codes of the child: 0 copied (stdout: JSON), 3 busy, 4 damaged, 5 cannot write, 6 replaced.
_CHILD = r"""
import errno, fcntl, json, os, sqlite3, sys
src, dst, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
FICLONE = 0x40049409
def uri(p):
    p = os.path.abspath(p).replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    return "file:" + p + "?mode=ro"
def fail(code, text):
    sys.stderr.write(text)
    sys.exit(code)
flags = os.O_NOFOLLOW | os.O_CLOEXEC
try:
    fi = os.open(src, os.O_RDONLY | flags)  # before SQLite opens it: the same file, checked below
    conn = sqlite3.connect(uri(src), uri=True, timeout=timeout, isolation_level=None)
    conn.execute("BEGIN")
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # takes the read lock
    wal = str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal"
except sqlite3.Error as exc:
    text = str(exc)
    fail(3 if "locked" in text or "busy" in text else 4, text)
except OSError as exc:
    fail(4, str(exc))
st, now = os.fstat(fi), os.stat(src)
if (st.st_dev, st.st_ino) != (now.st_dev, now.st_ino):
    fail(6, "the registry was replaced while the backup started")
try:
    if wal:
        conn.execute("COMMIT")
        out = sqlite3.connect(dst)
        conn.backup(out, pages=-1)
        out.close()
        method = "backup API"
    else:
        fo = os.open(dst, os.O_WRONLY | flags)
        size = os.fstat(fi).st_size  # cannot change: no writer gets past our SHARED lock
        try:
            fcntl.ioctl(fo, FICLONE, fi)
            method = "clone"
        except (OSError, AttributeError):
            method, done = "copy", 0
            try:  # in the kernel, as cp does
                while done < size:
                    n = os.copy_file_range(fi, fo, min(size - done, 1 << 26))
                    if n == 0:
                        break
                    done += n
            except (OSError, AttributeError) as exc:  # not here (macOS, old kernels): plain
                if getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT, errno.EIO):
                    raise
                method = "read/write"
                os.lseek(fi, done, 0)
                os.lseek(fo, done, 0)
                while done < size:
                    chunk = os.read(fi, min(size - done, 1 << 20))
                    if not chunk:
                        break
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fo, view):]
                    done += len(chunk)
        os.close(fo)
        conn.execute("COMMIT")
except sqlite3.Error as exc:
    text = str(exc)
    fail(5 if "full" in text or "I/O" in text or "unable to open" in text else 4, text)
except OSError as exc:
    fail(5, f"[Errno {exc.errno}] {exc.strerror}")
os.close(fi)  # only now: closing it drops this process's locks on the registry
print(json.dumps({"method": method}))
"""


def copy_snapshot(
    registry: Path,
    tmp: Path,
    *,
    deadline_s: float,
    progress: Progress,
    cancel: threading.Event | None,
    in_process_max: int = IN_PROCESS_MAX,
) -> str:
    """Copy `registry` into the existing empty temp file `tmp`; how it was copied.

    Cancelled (cancel set, or past the deadline), BackupError (locked, cannot write),
    IntegrityFailure (the registry is damaged). `tmp` is left for the caller to remove.
    """
    total = registry.stat().st_size
    with Stage(progress, "copy", total=total) as stage:
        if total <= in_process_max:
            _vacuum_into(registry, tmp, deadline_s, cancel)
            method = "vacuum"
        else:
            method = _in_child(registry, tmp, deadline_s, stage, cancel, total)
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
    return BackupError(
        f"cannot write the backup in {tmp.parent}: {text} "
        f"(disk full or no permission?); older backups are intact"
    )


def damaged(exc: object, registry: Path) -> BackupError | IntegrityFailure:
    journal = Path(f"{registry}-journal")
    if "readonly" in str(exc) and os.path.lexists(journal):
        # A hot journal: a writer died mid-transaction. Our read-only connection may not roll
        # it back; the next read-write open (7zarch-go's) does. Not damage: recover would refuse.
        return BackupError(
            f"a writer of {registry} stopped mid-transaction and left {journal.name}; SQLite "
            "rolls it back when 7zarch-go next opens the registry (or run `sqlite3 "
            f"{registry} 'PRAGMA quick_check'`); no backup taken, older backups are intact"
        )
    return IntegrityFailure(f"registry is damaged, no backup taken ({exc}); run `zarchctl recover`")


def _in_child(
    registry: Path,
    tmp: Path,
    deadline_s: float,
    stage: Stage,
    cancel: threading.Event | None,
    total: int,
) -> str:
    stop_at = time.monotonic() + deadline_s
    timeout = max(0.1, min(deadline_s / 2, 30.0))  # "locked" is told before the deadline hits
    argv = [sys.executable, "-I", "-S", "-c", _CHILD, str(registry), str(tmp), f"{timeout:g}"]
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        while True:
            if cancelled(cancel) or time.monotonic() > stop_at:
                raise _stopped(registry, deadline_s, cancel)
            try:
                out, err = proc.communicate(timeout=POLL_S)
                break
            except subprocess.TimeoutExpired:
                pass
            stage.update(_size(tmp))  # a WAL copy grows its file too; Stage never goes backwards
    finally:
        if proc.returncode is None:  # stopped (or interrupted): its locks die with it
            proc.kill()
            proc.communicate()
    text = err.decode(errors="replace").strip()[-300:]
    if proc.returncode == 0:
        return str(json.loads(out.decode())["method"])
    if proc.returncode == 3:
        raise _locked(registry)
    if proc.returncode == 4:
        raise damaged(text, registry)
    if proc.returncode == 5:
        raise _cannot_write(tmp, text)
    if proc.returncode == 6:
        raise BackupError(f"{text}; try again")
    raise BackupError(f"the copy of {registry} failed (exit {proc.returncode}): {text}")


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
