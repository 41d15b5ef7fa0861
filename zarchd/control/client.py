"""zarchctl's end of the control socket: one request per connection, errors as plain sentences.

Every way a connection can fail becomes a ZarchError whose message says what to do (as
Supervisor's client does); the daemon's own error codes map back to the matching exception class,
so the CLI picks exit codes the same way for --local and socket calls.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zarchd.app.commands import COMMANDS, PING_TIMEOUT_S
from zarchd.control.peercred import peer_cred
from zarchd.control.protocol import PROTOCOL_CODES, request
from zarchd.core.errors import (
    ConfigError,
    DaemonNotRunning,
    ProtocolError,
    UnsafePath,
    ZarchError,
    error_class_for,
)
from zarchd.core.fsutil import owner_name

MAX_ANSWER = 64 * 1024 * 1024  # answers (status, backups) may exceed the 1 MiB request limit
_REQUEST_ID = 1


def not_running_message(path: Path, command: str = "") -> str:
    """How to start the daemon; `--local` is suggested only to a command that has it."""
    entry = COMMANDS.get(command)
    local = ", or run this command with --local" if entry is not None and entry.local else ""
    return (
        f"zarchd is not running (no socket at {path}). "
        f"Start it with `systemctl --user start zarchd` or `zarchd run`{local}."
    )


def call(
    socket_path: Path,
    command: str,
    params: dict[str, Any] | None = None,
    *,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    timeout: float | None = None,
) -> Any:
    """Send one request and return its result; progress events go to `on_progress` as they come."""
    path = Path(socket_path)
    with _connect(path, timeout, command) as sock:
        try:
            sock.sendall(request(_REQUEST_ID, command, params))
        except (BrokenPipeError, ConnectionResetError):
            pass  # it may already have answered (e.g. a refusal) and hung up: read what it said
        except TimeoutError:
            raise ZarchError(
                f"zarchd at {path} did not take the request within {timeout}s"
            ) from None
        return _receive(sock, path, command, on_progress, timeout)


def ping(socket_path: Path, timeout: float = PING_TIMEOUT_S) -> bool:
    """True when a daemon answers on `socket_path` and accepts us."""
    try:
        call(socket_path, "ping", timeout=timeout)
    except ZarchError:
        return False
    return True


def _connect(path: Path, timeout: float | None, command: str = "") -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
    except BaseException as exc:
        sock.close()
        raise _connect_error(path, exc, timeout, command) from None
    try:
        _check_daemon_uid(sock, path)
    except BaseException:
        sock.close()
        raise
    return sock


def _check_daemon_uid(sock: socket.socket, path: Path) -> None:
    """Only our own user's daemon (or root's) is believed: another user who could swap the
    socket must not feed us fake answers ("verified", "stopping")."""
    try:
        cred = peer_cred(sock)
    except OSError as exc:
        raise UnsafePath(
            f"cannot tell which user listens on {path} ({exc}); refusing to trust its answers"
        ) from None
    if cred.uid not in {os.getuid(), os.geteuid(), 0}:
        who = f"pid {cred.pid}, " if cred.pid else ""
        raise UnsafePath(
            f"the process listening on {path} ({who}{owner_name(cred.uid)}) is not zarchd of "
            f"{owner_name(os.geteuid())} or root: refusing to trust its answers. Another user "
            f"may have replaced the socket; check who owns {path.parent}"
        )


def _connect_error(
    path: Path, exc: BaseException, timeout: float | None, command: str = ""
) -> BaseException:
    if isinstance(exc, ConnectionRefusedError) and _not_a_socket(path):
        # A wrong --socket (a file, a directory) is not a stopped daemon: exit 1, not 3.
        return ZarchError(
            f"cannot connect to zarchd: {path} is not a socket; point --socket (or "
            f"control.socket) at the daemon's socket"
        )
    if isinstance(exc, (FileNotFoundError, ConnectionRefusedError)):
        return DaemonNotRunning(not_running_message(path, command))
    if isinstance(exc, PermissionError):
        return ZarchError(
            f"permission denied on {path}: the socket belongs to another user. Run zarchctl as "
            f"the user zarchd runs as, or point --socket at your own daemon's socket."
        )
    if isinstance(exc, TimeoutError):
        return ZarchError(
            f"zarchd at {path} did not accept the connection within {timeout}s; "
            "it may be overloaded or hung: see its log (journalctl --user -u zarchd)"
        )
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOTDIR:
            return DaemonNotRunning(not_running_message(path, command))
        reason = exc.strerror or str(exc)
        return ZarchError(f"cannot connect to zarchd at {path}: {reason}")
    return exc  # KeyboardInterrupt and friends pass through untouched


def _not_a_socket(path: Path) -> bool:
    try:
        return not stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


def _closed(command: str) -> ZarchError:
    return ZarchError(
        f"the daemon closed the connection before answering `{command}`; it may have stopped or "
        f"crashed: see its log (journalctl --user -u zarchd, or the terminal running `zarchd run`)"
    )


def _receive(
    sock: socket.socket,
    path: Path,
    command: str,
    on_progress: Callable[[dict[str, Any]], None] | None,
    timeout: float | None,
) -> Any:
    with sock.makefile("rb") as stream:
        while True:
            try:
                raw = stream.readline(MAX_ANSWER + 1)
            except TimeoutError:
                raise ZarchError(
                    f"no answer from zarchd within {timeout}s for `{command}`"
                ) from None
            except (ConnectionResetError, BrokenPipeError):
                raise _closed(command) from None
            if not raw.endswith(b"\n"):
                if len(raw) > MAX_ANSWER:
                    raise ZarchError(
                        f"zarchd's answer to `{command}` is larger than {MAX_ANSWER} bytes"
                    )
                raise _closed(command)
            message = _decode(raw, command)
            if message.get("id") not in (_REQUEST_ID, None):
                continue  # not ours: ignore rather than misattribute
            if "progress" in message:
                if on_progress is not None and isinstance(message["progress"], dict):
                    on_progress(message["progress"])
                continue
            if "error" in message:
                raise error_from(message["error"])
            if "result" in message:
                return message["result"]
            raise ZarchError(
                f"zarchd at {path} sent an answer this zarchctl does not understand: {raw[:200]!r}"
            )


def _decode(raw: bytes, command: str) -> dict[str, Any]:
    try:
        message = json.loads(raw)
    except ValueError:
        message = None
    if not isinstance(message, dict):
        raise ZarchError(
            f"zarchd sent an answer to `{command}` that is not a JSON object: {raw[:200]!r}"
        )
    return message


def error_from(error: object) -> ZarchError:
    """The ZarchError (subclass chosen by code) for an {"code", "message"} error object."""
    fields = error if isinstance(error, dict) else {}
    code = str(fields.get("code") or "failed")
    message = str(fields.get("message") or f"zarchd reported an error ({code})")
    cls = ProtocolError if code in PROTOCOL_CODES else error_class_for(code)
    exc = cls.__new__(cls)
    ZarchError.__init__(
        exc, message
    )  # subclasses with other constructors (ConfigError) get the plain message
    exc.code = code
    if isinstance(exc, ConfigError):
        exc.problems = [line[4:] for line in message.splitlines() if line.startswith("  - ")] or [
            message
        ]
    return exc
