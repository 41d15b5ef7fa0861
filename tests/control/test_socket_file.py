"""The socket file: private modes, stale versus live, and cleanup that only removes our own file."""

from __future__ import annotations

import os
import socket
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from zarchd.control.client import call
from zarchd.control.server import ControlServer
from zarchd.core.errors import ZarchError

from .helpers import Handler, Raw


def test_socket_is_0600_in_a_0700_directory_whatever_the_umask(
    make_server: Callable[..., ControlServer], sock_dir: Path
) -> None:
    path = sock_dir / "a" / "b" / "zarchd.sock"
    old = os.umask(0)
    try:
        server = make_server(path=path)
    finally:
        os.umask(old)
    for directory in (sock_dir / "a", sock_dir / "a" / "b"):
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    st = os.stat(server.address)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    assert os.umask(old) == old  # the process umask is restored


def test_existing_directory_is_left_as_it_is(
    make_server: Callable[..., ControlServer], sock_dir: Path
) -> None:
    shared = sock_dir / "shared"
    shared.mkdir()
    os.chmod(shared, 0o755)
    server = make_server(path=shared / "zarchd.sock")
    assert stat.S_IMODE(os.stat(shared).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(server.address).st_mode) == 0o600


def _stale_socket(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()  # like a crashed daemon: the file stays, nobody listens


def test_stale_socket_is_replaced(
    make_server: Callable[..., ControlServer], sock_path: Path
) -> None:
    _stale_socket(sock_path)
    server = make_server()
    assert call(server.address, "ping") == {"pong": True}


def test_live_socket_refuses_a_second_server(server: ControlServer, handler: Handler) -> None:
    second = ControlServer(server.address, handler)
    with pytest.raises(
        ZarchError, match=f"^another zarchd is already listening on {server.address}$"
    ):
        second.start()
    second.stop()  # harmless: it never started
    assert call(server.address, "ping") == {"pong": True}


@pytest.mark.parametrize("content", [b"not a socket", None])
def test_something_else_at_the_path_is_never_removed(
    sock_path: Path, handler: Handler, content: Any
) -> None:
    sock_path.parent.mkdir(parents=True)
    if content is None:
        sock_path.mkdir()
    else:
        sock_path.write_bytes(content)
    with pytest.raises(ZarchError, match=r"exists and is not a socket|cannot listen"):
        ControlServer(sock_path, handler).start()
    assert sock_path.is_dir() if content is None else sock_path.read_bytes() == content


def test_too_long_a_path_is_a_clear_error(sock_dir: Path, handler: Handler) -> None:
    with pytest.raises(ZarchError, match=r"too long .* set \[control\] socket to a shorter path"):
        ControlServer(sock_dir / ("d" * 120) / "zarchd.sock", handler).start()


def test_stop_closes_connections_and_removes_the_socket(server: ControlServer) -> None:
    idle = Raw(server.address)
    server.stop()
    assert not server.address.exists()
    assert idle.closed()
    server.stop()  # twice is fine


def test_stop_keeps_a_socket_that_is_no_longer_ours(server: ControlServer) -> None:
    server.address.unlink()
    server.address.write_text("a successor's file")
    server.stop()
    assert server.address.read_text() == "a successor's file"


def test_stop_lets_an_answer_in_progress_finish(server: ControlServer, handler: Handler) -> None:
    results: list[Any] = []
    caller = threading.Thread(
        target=lambda: results.append(call(server.address, "migrate", timeout=10))
    )
    caller.start()
    assert handler.in_flight.acquire(timeout=5)
    stopper = threading.Thread(target=server.stop, kwargs={"timeout": 5.0})
    stopper.start()
    threading.Timer(0.2, handler.release.set).start()
    stopper.join(10)
    caller.join(10)
    assert results == [{"migrated": True}]
    assert not server.address.exists()


def test_stop_from_inside_a_handler_still_answers(server: ControlServer) -> None:
    assert call(server.address, "stop", timeout=10) == {"stopping": True}
    deadline = threading.Event()
    for _ in range(100):
        if not server.address.exists():
            break
        deadline.wait(0.05)
    assert not server.address.exists()
