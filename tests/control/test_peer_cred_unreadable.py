"""When the kernel will not say who is on the other end (no SO_PEERCRED / getpeereid, e.g. an
unusual platform or socket type), both ends refuse: the daemon runs nothing for an unknown
peer, the client trusts no answer. The failure is injected at the one call: Linux always
answers SO_PEERCRED on a Unix socket."""

from __future__ import annotations

import errno
from typing import Any

import pytest

from zarchd.control import client, connection
from zarchd.control.client import call
from zarchd.control.server import ControlServer
from zarchd.core.errors import Forbidden, UnsafePath

from .helpers import Handler


def _unreadable(sock: Any) -> Any:
    raise OSError(errno.EOPNOTSUPP, "Operation not supported")


def test_daemon_refuses_a_peer_it_cannot_identify(
    server: ControlServer, handler: Handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection, "peer_cred", _unreadable)
    with pytest.raises(Forbidden, match="zarchd cannot verify who you are"):
        call(server.address, "status")
    assert handler.calls == [], "nothing runs for an unidentified peer"


def test_client_refuses_a_daemon_it_cannot_identify(
    server: ControlServer, handler: Handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client, "peer_cred", _unreadable)
    with pytest.raises(UnsafePath, match="cannot tell which user listens on"):
        call(server.address, "status")
    assert handler.calls == []
