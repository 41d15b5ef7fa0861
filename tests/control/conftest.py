"""Fixtures: a real ControlServer on a short socket path (AF_UNIX paths hold 107 bytes at most)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from zarchd.control.server import ControlServer

from .helpers import Handler


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="zc-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def sock_path(sock_dir: Path) -> Path:
    return sock_dir / "run" / "zarchd.sock"


@pytest.fixture
def handler() -> Handler:
    return Handler()


@pytest.fixture
def make_server(sock_path: Path, handler: Handler) -> Iterator[Callable[..., ControlServer]]:
    servers: list[ControlServer] = []

    def make(**kwargs: Any) -> ControlServer:
        kwargs.setdefault("idle_timeout", 10.0)
        server = ControlServer(
            kwargs.pop("path", sock_path), kwargs.pop("handler", handler), **kwargs
        )
        server.start()
        servers.append(server)
        handler.server = server
        return server

    yield make
    handler.release.set()
    for server in servers:
        server.stop(timeout=1.0)


@pytest.fixture
def server(make_server: Callable[..., ControlServer]) -> ControlServer:
    return make_server()
