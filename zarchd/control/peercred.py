"""Who is on the other end of a Unix socket: the kernel's word, not the file mode's.

Linux reports the peer's pid/uid/gid (captured at connect time) through SO_PEERCRED; macOS and
the BSDs offer getpeereid(2). Anything else cannot prove a uid, so the caller refuses.
"""

from __future__ import annotations

import os
import socket
import struct
import sys
from dataclasses import dataclass
from typing import Protocol


class _SocketLike(Protocol):
    def fileno(self) -> int: ...

    def getsockopt(self, level: int, optname: int, buflen: int) -> bytes: ...


@dataclass(frozen=True)
class PeerCred:
    uid: int
    gid: int
    pid: int | None  # unknown on macOS


_UCRED = struct.Struct("iII")  # struct ucred { pid_t pid; uid_t uid; gid_t gid; }


def _getpeereid(sock: _SocketLike) -> PeerCred:
    # Imported here: only macOS and the BSDs get here, and ctypes costs every zarchctl ~5 ms.
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    uid, gid = ctypes.c_uint32(), ctypes.c_uint32()
    if libc.getpeereid(sock.fileno(), ctypes.byref(uid), ctypes.byref(gid)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"getpeereid failed: {os.strerror(err)}")
    return PeerCred(uid=uid.value, gid=gid.value, pid=None)


def peer_cred(sock: _SocketLike) -> PeerCred:
    """The credentials of the process that connected `sock`; OSError when they cannot be read."""
    # Linux only: OpenBSD also has SO_PEERCRED, with another struct layout (it takes getpeereid).
    if sys.platform == "linux":
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
        pid, uid, gid = _UCRED.unpack(raw)
        return PeerCred(uid=uid, gid=gid, pid=pid)
    if sys.platform == "darwin" or "bsd" in sys.platform:
        return _getpeereid(sock)
    raise OSError(f"no way to read peer credentials on {sys.platform}")
