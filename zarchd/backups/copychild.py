"""The copy of a large registry, run as `python -I -S copychild.py SRC DST TIMEOUT` (snapshot.py).

A child process because closing any descriptor of the registry drops every POSIX lock the whole
process holds on it (SQLite's too): never done in the daemon. Standard library only: `-I -S`
starts without site-packages, so nothing of zarchd can be imported here.

Rollback journal (7zarch-go's mode): a read transaction (SQLite's SHARED lock: the file holds
exactly the committed data and no writer can change it) while the file's bytes are copied.
Writers wait for as long as that copy takes, so the least possible is done under the lock:
- a copy-on-write clone where the file system offers one;
- else (up to MAP_MAX) DST is made ready before the lock (its blocks reserved with
  fallocate, its page-cache pages created through a shared map), and under the lock the bytes
  are read straight into that map: about half of what `cp` takes, which also has to create the
  pages of its new file;
- else copy_file_range in the kernel, as `cp` does (read/write where that is missing).
WAL: the backup API in one step in its own read transaction (WAL writers never wait for a reader).

Protocol on stdout, one line each: `done N` once DST holds the first N bytes of the copy for good
(the parent hashes them while the rest is copied), then `method NAME` (how it was copied).
No json here: importing it (with re and enum) took longer than Python's own start.
Before the copy, `size N`: what the registry holds under the lock (not in WAL mode, where the
copy is SQLite's own); the parent checks the copy has exactly that many bytes.
Exit codes: 0 copied, 3 busy, 4 damaged, 5 cannot write, 6 replaced, 7 cannot read.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import sqlite3
import struct
import sys
from collections.abc import Callable

FICLONE = 0x40049409
FICLONERANGE = 0x4020940D  # struct file_clone_range {s64 src_fd; u64 src_offset, length, dest}
MADV_POPULATE_WRITE = 23  # Linux 5.14+; not named by Python 3.11's mmap
MAP_MAX = 512 * 1024 * 1024  # beyond: the kernel copy (no page cache made up front for it)
CHUNK = 16 * 1024 * 1024  # a `done` line per chunk: the parent's hash follows this closely
FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC
SHORT = (
    "the registry is shorter than its size under SQLite's read lock (something changed it "
    "without SQLite's locks)"
)
NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG)

Report = Callable[[str], None]


class Failed(Exception):
    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code


def errno_text(exc: OSError) -> str:
    """`[Errno 5] Input/output error`: the parent tells disk errors apart by it."""
    return f"[Errno {exc.errno}] {exc.strerror}"


def uri(path: str) -> str:
    p = os.path.abspath(path).replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    return "file:" + p + "?mode=ro"


def wal_header(fi: int) -> bool:
    """The file's header says WAL (bytes 18 and 19 are 2): a hint, checked again under the lock."""
    head = os.pread(fi, 20, 0)
    return len(head) == 20 and head[18] == 2 and head[19] == 2


def clones(fi: int, fo: int) -> bool:
    """Whether this file system clones: one block tried before the lock, then undone. Not the
    whole file: on XFS or btrfs a clone of a large registry holds its writers up in the kernel."""
    block = max(4096, os.fstat(fo).st_blksize)
    if os.fstat(fi).st_size < block:
        return False
    try:
        fcntl.ioctl(fo, FICLONERANGE, struct.pack("qQQQ", fi, 0, block, 0))
    except OSError:
        return False
    os.ftruncate(fo, 0)
    return True


def available_memory() -> int:
    """MemAvailable (Linux), else no limit here: a map made ready holds dirty page cache until
    the parent's fsync, so it is kept to an eighth of what the machine has to spare (past the
    kernel's dirty limits its zeros would be written out, and its pages faulted again under the
    lock)."""
    try:
        with open("/proc/meminfo", "rb") as fh:
            for line in fh:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 1 << 62


def prepare_map(fo: int, size: int) -> mmap.mmap | None:
    """DST at `size`, its blocks reserved and its pages present and writable; None where the
    system cannot (the kernel copy is used). Out of space is told now, before any lock."""
    if not 0 < size <= min(MAP_MAX, available_memory() // 8):
        return None
    mm = None
    try:
        os.posix_fallocate(fo, 0, size)  # no write through the map can then fail (no SIGBUS)
        mm = mmap.mmap(fo, size, flags=mmap.MAP_SHARED)
        mm.madvise(MADV_POPULATE_WRITE)
        return mm
    except (OSError, ValueError, AttributeError) as exc:
        if mm is not None:
            mm.close()
        if getattr(exc, "errno", None) in NO_SPACE:
            raise
        os.ftruncate(fo, 0)
        return None


def read_into(fi: int, mm: mmap.mmap, size: int, report: Report) -> None:
    view = memoryview(mm)
    try:
        done = 0
        while done < size:
            n = os.preadv(fi, [view[done : min(size, done + CHUNK)]], done)
            if n <= 0:
                raise Failed(7, SHORT)
            done += n
            report(f"done {done}")
    except OSError as exc:  # only the registry is read here (the map's pages are ready)
        raise Failed(7, f"reading it failed: {errno_text(exc)}") from exc
    finally:
        view.release()


def map_copy(fi: int, fo: int, mm: mmap.mmap, size: int, report: Report) -> str:
    """Read the registry into the map made ready before the lock; how it was copied. A writer
    may have committed between that look and the lock: bytes past the map (a grown registry,
    usually a page or two) are copied by the kernel; a shrunk copy is cut to size by the caller
    once the lock is let go. Copying all of it by the kernel instead held writers of a 109 MB
    registry 41 to 43 ms instead of 18 to 21 (measured)."""
    head = min(size, len(mm))
    read_into(fi, mm, head, report)
    if size > head:
        return "map+" + kernel_copy(fi, fo, size, report, head)
    return "map"


def kernel_copy(fi: int, fo: int, size: int, report: Report, done: int = 0) -> str:
    """Copy bytes `done` to `size` of `fi` to the same offsets of `fo`."""
    try:  # in the kernel, as cp does
        while done < size:
            n = os.copy_file_range(fi, fo, min(size - done, CHUNK), done, done)
            if n == 0:  # no progress (some kernels and file systems say so): the plain way on
                break
            done += n
            report(f"done {done}")
        if done == size:
            return "copy"
    except (OSError, AttributeError) as exc:  # not here (macOS, old kernels): plain
        code = getattr(exc, "errno", None)
        if code in NO_SPACE and code != errno.EIO:  # EIO: either disk; the plain way tells which
            raise
    while done < size:
        try:
            chunk = os.pread(fi, min(size - done, 1 << 20), done)
        except OSError as exc:
            raise Failed(7, f"reading it failed: {errno_text(exc)}") from exc
        if not chunk:
            raise Failed(7, SHORT)
        view = memoryview(chunk)
        while view:
            view = view[os.pwrite(fo, view, done + len(chunk) - len(view)) :]
        done += len(chunk)
        report(f"done {done}")
    return "read/write"


def copy(src: str, dst: str, timeout: float, report: Report) -> str:
    """Copy the registry `src` into the existing empty file `dst`; how it was copied. Failed."""
    try:  # before SQLite opens it: the same file, checked below. It may be a symlink (a
        # configured path is not resolved); SQLite follows it too.
        fi = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise Failed(7, f"cannot open it: {errno_text(exc)}") from exc
    fo = -1
    try:
        fo = os.open(dst, os.O_RDWR | FLAGS)
        st = os.fstat(fi)
        mm = None
        wal_hint = wal_header(fi)
        clone = not wal_hint and clones(fi, fo)
        if not clone and not wal_hint:
            mm = prepare_map(fo, st.st_size)
        try:
            return _locked_copy(src, dst, timeout, fi, fo, mm, clone, report)
        finally:
            if mm is not None:
                mm.close()
    except OSError as exc:
        raise Failed(5, errno_text(exc)) from exc
    finally:
        if fo >= 0:
            os.close(fo)
        os.close(fi)  # only now: closing it drops this process's locks on the registry


def _locked_copy(
    src: str,
    dst: str,
    timeout: float,
    fi: int,
    fo: int,
    mm: mmap.mmap | None,
    clone: bool,
    report: Report,
) -> str:
    try:
        conn = sqlite3.connect(uri(src), uri=True, timeout=timeout, isolation_level=None)
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # takes the read lock
        wal = str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal"
    except sqlite3.Error as exc:
        text = str(exc)
        raise Failed(3 if "locked" in text or "busy" in text else 4, text) from exc
    try:
        st = os.fstat(fi)
        try:
            now = os.stat(src)
        except OSError as exc:
            raise Failed(6, f"the registry was moved while the backup started ({exc})") from exc
        if (st.st_dev, st.st_ino) != (now.st_dev, now.st_ino):
            raise Failed(6, "the registry was replaced while the backup started")
        size = st.st_size  # cannot change: no writer gets past our SHARED lock
        if wal:
            conn.execute("COMMIT")
            if mm is not None:  # the mode changed since the header was read
                os.ftruncate(fo, 0)
            out = sqlite3.connect(dst)
            out.execute("PRAGMA journal_mode=OFF")  # a fresh temp file: nothing to roll back to
            out.execute("PRAGMA synchronous=OFF")  # fsynced by the parent, beside its check
            conn.backup(out, pages=-1)
            out.close()
            report(f"done {os.fstat(fo).st_size}")
            return "backup API"
        report(f"size {size}")
        method = ""
        if clone:
            try:
                fcntl.ioctl(fo, FICLONE, fi)
                method = "clone"
                report(f"done {size}")
            except OSError as exc:  # cloned a block, not this file: copy it
                if exc.errno in NO_SPACE:
                    raise
                os.ftruncate(fo, 0)
        if not method and mm is not None:
            method = map_copy(fi, fo, mm, size, report)
        elif not method:
            method = kernel_copy(fi, fo, size, report)
        conn.execute("COMMIT")
        if mm is not None and len(mm) > size:  # the registry shrank since DST was made ready
            os.ftruncate(fo, size)
        return method
    except sqlite3.Error as exc:
        text = str(exc)
        code = 5 if "full" in text or "I/O" in text or "unable to open" in text else 4
        raise Failed(code, text) from exc
    finally:
        conn.close()  # the read transaction ends with it if an error came first


def main(argv: list[str]) -> int:
    src, dst, timeout = argv[0], argv[1], float(argv[2])

    def report(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    try:
        method = copy(src, dst, timeout, report)
    except Failed as exc:
        sys.stderr.write(str(exc))
        return exc.code
    report(f"method {method}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
