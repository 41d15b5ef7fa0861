"""Durable file writes: temporary name, fsync, rename, fsync the directory.

Files zarchd writes may sit in directories other users can write to (a registry in a shared
directory, a root daemon on a user's registry): nothing here writes through a name another
user could have planted. Files are written through the descriptor that created them
(mkstemp, O_EXCL) and reopened only with O_NOFOLLOW, checking the opened file with fstat.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pwd
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from zarchd.core.errors import UnsafePath

# Never follow a symlink at the last component; never block on a planted FIFO; no leak to children.
SAFE_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def trusted_uids() -> set[int]:
    """Owners whose files zarchd trusts: its own user and root."""
    return {os.geteuid(), 0}


def shared_dir_risk(st: os.stat_result) -> str | None:
    """Why other users could plant or swap files in a directory with these stats: "owner" (it
    is another user's), "writable" (group/others may write it and no sticky bit keeps them from
    removing or renaming our files), or None when only we (or root) can."""
    if st.st_uid not in trusted_uids():
        return "owner"
    mode = stat.S_IMODE(st.st_mode)
    if mode & (stat.S_IWGRP | stat.S_IWOTH) and not mode & stat.S_ISVTX:
        return "writable"
    return None


def owner_name(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def untrusted_reason(st: os.stat_result, *, single_link: bool = False) -> str | None:
    """Why a file with these stats is not to be trusted, or None when it is ours (or root's)."""
    if not stat.S_ISREG(st.st_mode):
        return "it is not a regular file"
    if st.st_uid not in trusted_uids():
        return (
            f"it is owned by {owner_name(st.st_uid)}, not by zarchd's user "
            f"{owner_name(os.geteuid())} or root"
        )
    if single_link and st.st_nlink != 1:  # a hard link to someone else's file
        return f"it has {st.st_nlink} hard links"
    return None


def open_trusted(
    path: Path, flags: int, what: str, *, mode: int = 0o600, single_link: bool = False
) -> int:
    """A descriptor of `path` that is a regular file owned by us or root, never via a symlink.

    UnsafePath (naming the file, and its owner) otherwise; OSError for plain I/O failures."""
    try:
        fd = os.open(path, flags | SAFE_FLAGS, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePath(
                f"{what} {path} is a symbolic link: refusing to use it (another "
                f"user may have planted it); remove it"
            ) from None
        raise
    try:
        why = untrusted_reason(os.fstat(fd), single_link=single_link)
    except BaseException:
        os.close(fd)
        raise
    if why is not None:
        os.close(fd)
        raise UnsafePath(
            f"{what} {path} is not trusted: {why}; remove it (it may have been "
            f"planted by another user)"
        )
    return fd


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | SAFE_FLAGS)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def temp_path(directory: Path, prefix: str, suffix: str = ".tmp") -> Iterator[Path]:
    """A fresh 0600 temporary file name in `directory`, removed on exit unless renamed away."""
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=directory)
    os.close(fd)
    path = Path(name)
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` with `data` so that a crash leaves either the old or the new content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        # Written through mkstemp's own descriptor (O_EXCL, 0600): never through a name another
        # user could swap meanwhile. rename() replaces a planted symlink at `path`, never follows
        # it.
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str, mode: int = 0o600) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode)


def publish(tmp: Path, final: Path) -> None:
    """Move a finished, fsynced temporary file to its final name without replacing anything."""
    why = untrusted_reason(os.lstat(tmp))
    if why is not None:  # swapped after we wrote it: never publish another user's file
        raise UnsafePath(f"the temporary file {tmp} changed under us ({why}); nothing published")
    try:
        os.link(tmp, final)  # fails if `final` exists: never overwrite a backup
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        # No hard links here (SMB, FUSE, exFAT): a checked rename, with a window of a few
        # microseconds in which another writer could take the name.
        if os.path.lexists(final):
            raise FileExistsError(errno.EEXIST, "file exists", str(final)) from None
        os.rename(tmp, final)
    else:
        os.unlink(tmp)
    fsync_dir(final.parent)


def copy_into(
    source: Path, target: Path, *, mode: int = 0o600, expect: tuple[int, int] | None = None
) -> None:
    """Copy `source` into the fresh temp file `target` (ours, from mkstemp), both opened without
    following symlinks and checked: a name swapped by another user is refused, never written.
    `expect`: the (dev, ino) `source` had when it was listed; another file there is refused."""
    src = open_trusted(source, os.O_RDONLY, "the file to copy")
    try:
        st = os.fstat(src)
        if expect is not None and (st.st_dev, st.st_ino) != expect:
            raise UnsafePath(f"{source} was replaced since it was checked; nothing was copied")
        # no O_TRUNC: truncate only once fstat has shown the file is our own
        dst = open_trusted(target, os.O_WRONLY, "the temporary file", single_link=True)
        try:
            os.ftruncate(dst, 0)
            os.fchmod(dst, mode)
            while chunk := os.read(src, 1 << 20):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(dst, view) :]
            os.fsync(dst)
        finally:
            os.close(dst)
    finally:
        os.close(src)
