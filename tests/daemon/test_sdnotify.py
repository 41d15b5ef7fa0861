"""sd_notify against real AF_UNIX datagram sockets (path and abstract)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from zarchd.daemon.sdnotify import Notifier


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify.sock"
    sock.bind(str(path))
    sock.settimeout(2.0)
    yield sock, str(path)
    sock.close()


def recv(sock: socket.socket) -> str:
    return sock.recv(4096).decode()


def test_ready_status_watchdog_stopping_on_path_socket(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    n = Notifier.from_env({"NOTIFY_SOCKET": path})
    assert n.enabled
    n.ready("watching registry.db")
    assert recv(sock) == "READY=1\nSTATUS=watching registry.db\n"
    n.status("last backup 5 min ago")
    assert recv(sock) == "STATUS=last backup 5 min ago\n"
    n.watchdog()
    assert recv(sock) == "WATCHDOG=1\n"
    n.stopping()
    assert recv(sock) == "STOPPING=1\n"
    n.close()


def test_newline_in_value_cannot_inject_a_field(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    Notifier.from_env({"NOTIFY_SOCKET": path}).status("two\nREADY=1")
    assert recv(sock) == "STATUS=two READY=1\n"


def test_abstract_socket() -> None:
    name = f"zarchd-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(2.0)
    try:
        Notifier.from_env({"NOTIFY_SOCKET": "@" + name}).ready("up")
        assert recv(sock) == "READY=1\nSTATUS=up\n"
    finally:
        sock.close()


def test_without_notify_socket_nothing_is_sent_and_nothing_fails() -> None:
    n = Notifier.from_env({})
    assert not n.enabled
    n.ready("x")
    n.status("y")
    n.watchdog()
    n.stopping()
    assert n.watchdog_interval() is None


def test_dead_socket_is_logged_once_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    n = Notifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert n.enabled
    for _ in range(3):
        n.status("x")
    warnings = [r for r in caplog.records if "notify" in r.getMessage()]
    assert len(warnings) == 1


def test_watchdog_interval() -> None:
    assert Notifier.from_env({"WATCHDOG_USEC": "2000000"}).watchdog_interval() == 1.0
    mine = {"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid())}
    assert Notifier.from_env(mine).watchdog_interval() == 1.0
    other = {"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    assert Notifier.from_env(other).watchdog_interval() is None
    assert Notifier.from_env({"WATCHDOG_USEC": "soon"}).watchdog_interval() is None
    assert Notifier.from_env({"WATCHDOG_USEC": "0"}).watchdog_interval() is None


def test_a_long_start_keeps_extending_the_start_timeout(
    listener: tuple[socket.socket, str],
) -> None:
    """A start-up migration of a large registry can outlast TimeoutStartSec: while it runs,
    systemd is told to wait longer, and no longer once it is over."""
    sock, path = listener
    n = Notifier.from_env({"NOTIFY_SOCKET": path})
    with n.extending("migrating", every_s=0.02, by_s=90):
        for _ in range(3):  # the first at once, then one per period
            assert recv(sock) == "EXTEND_TIMEOUT_USEC=90000000\nSTATUS=migrating\n"
    sock.settimeout(0.2)
    stale = []
    try:
        while True:
            stale.append(recv(sock))
    except TimeoutError:
        pass
    assert len(stale) <= 1  # at most one sent as the block ended; then silence
    with Notifier.from_env({}).extending("not under systemd"):  # no socket: nothing, no thread
        pass
    n.close()
