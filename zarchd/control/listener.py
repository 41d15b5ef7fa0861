"""Creating the listening socket: private directory, private file, stale-versus-live detection.

Modes are set through the umask *before* anything exists, so there is never a moment where the
directory or the socket is open to others; the peer-credential check is the second lock.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import stat
from pathlib import Path

from zarchd.core.errors import UnsafeDirectory, ZarchError
from zarchd.core.fsutil import owner_name, shared_dir_risk

log = logging.getLogger("zarchd.control")

SUN_PATH_MAX = 107  # Linux sun_path holds 108 bytes including the terminating NUL (macOS: 104)
PROBE_TIMEOUT = 1.0


def ensure_private_dir(directory: Path) -> None:
    """Create the socket's directory (and missing parents) 0700; an existing one must be ours (or
    root's) and not writable by others: whoever can write it can later swap the socket and
    answer our clients in our name (issue 9, defect 8)."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.stat(directory)
    except OSError as exc:
        raise ZarchError(
            f"cannot create the socket directory {directory}: {exc.strerror or exc}"
        ) from None
    mode = st.st_mode
    if not stat.S_ISDIR(mode):
        raise ZarchError(
            f"{directory} is not a directory; set [control] socket to a path in a directory"
        )
    risk = shared_dir_risk(st)
    if risk == "owner":
        raise UnsafeDirectory(
            f"the socket directory {directory} belongs to {owner_name(st.st_uid)}, not to "
            f"{owner_name(os.geteuid())} or root: its owner could replace the socket. Remove it "
            f"(zarchd creates it 0700) or set [control] socket to a path in your own directory"
        )
    # A sticky directory (/tmp) keeps others from removing or renaming our socket.
    if risk == "writable":
        raise UnsafeDirectory(
            f"the socket directory {directory} is writable by other users (mode "
            f"{stat.S_IMODE(mode):o}): they could replace the socket. Fix it with "
            f"`chmod go-w {directory}`, or set [control] socket to a path in a private directory"
        )
    if mode & 0o077:
        # Not ours to chmod (it may be /tmp or a home directory); peer credentials still protect us.
        log.warning(
            "socket directory %s is accessible to other users (mode %o); prefer a 0700 directory",
            directory,
            stat.S_IMODE(mode),
        )


def clear_stale(path: Path) -> None:
    """Remove a socket a crashed daemon left; refuse if a live one answers or it is not a socket."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise ZarchError(
            f"{path} exists and is not a socket; "
            "move it away or set [control] socket to another path"
        )
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(PROBE_TIMEOUT)
    try:
        probe.connect(str(path))
    except ConnectionRefusedError:
        log.info("replacing stale control socket %s (nothing listens on it)", path)
        path.unlink(missing_ok=True)
        return
    except FileNotFoundError:
        return
    except TimeoutError:
        pass  # a full backlog: something is listening, just busy
    except PermissionError:
        raise ZarchError(
            f"the socket {path} belongs to another user; set [control] socket to another path"
        ) from None
    finally:
        probe.close()
    raise ZarchError(f"another zarchd is already listening on {path}")


def bind_private(path: Path, backlog: int) -> tuple[socket.socket, tuple[int, int]]:
    """A listening socket at `path`, mode 0600 in a 0700 directory; returns it, its (dev, inode)."""
    if len(os.fsencode(path)) > SUN_PATH_MAX:
        raise ZarchError(
            f"the socket path {path} is too long ({len(os.fsencode(path))} bytes, "
            f"the limit is {SUN_PATH_MAX}); set [control] socket to a shorter path"
        )
    old_umask = os.umask(0o077)  # process-wide, but only ever narrows what other threads create
    try:
        ensure_private_dir(path.parent)
        clear_stale(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        bound = False
        try:
            sock.bind(str(path))
            bound = True
            os.chmod(path, 0o600)
            sock.listen(backlog)
            st = os.stat(path)
        except OSError as exc:
            sock.close()
            if bound:
                path.unlink(missing_ok=True)
            if exc.errno == errno.EADDRINUSE:
                raise ZarchError(f"another zarchd is already listening on {path}") from None
            raise ZarchError(f"cannot listen on {path}: {exc.strerror or exc}") from None
    finally:
        os.umask(old_umask)
    return sock, (st.st_dev, st.st_ino)


def remove_if_ours(path: Path, ident: tuple[int, int]) -> None:
    """Unlink the socket if it is still the file we bound (a successor may have replaced it)."""
    try:
        st = os.lstat(path)
        if (st.st_dev, st.st_ino) == ident:
            path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("could not remove the control socket %s: %s", path, exc)
