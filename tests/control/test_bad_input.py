"""Bad input gets an error or a closed connection, never a stopped daemon."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest

from zarchd.control.client import call
from zarchd.control.protocol import MAX_LINE
from zarchd.control.server import ControlServer

from .helpers import Handler, Raw

BAD_LINES: list[tuple[bytes, str, Any]] = [
    (b"{not json", "bad_request", None),
    (b"[1, 2]", "bad_request", None),
    (b"42", "bad_request", None),
    (b'"ping"', "bad_request", None),
    (b"null", "bad_request", None),
    (b"\xff\xfe{}", "bad_request", None),
    (b'{"id": NaN, "method": "ping"}', "bad_request", None),
    (b"[" * 200_000, "bad_request", None),
    (b'{"id": true, "method": "ping"}', "bad_request", None),
    (b'{"id": 1.5, "method": "ping"}', "bad_request", None),
    (b'{"id": 13}', "bad_request", 13),
    (b'{"id": 14, "method": 5}', "bad_request", 14),
    (b'{"id": 15, "method": "ping", "extra": 1}', "bad_request", 15),
    (b'{"id": 7, "method": "nope"}', "unknown_method", 7),
    (b'{"id": "a", "method": "prune", "params": {"dry_run": "yes"}}', "bad_params", "a"),
    (b'{"id": 8, "method": "prune", "params": {"dry_run": 1}}', "bad_params", 8),
    (b'{"id": 9, "method": "migrate", "params": {"force": true}}', "bad_params", 9),
    (b'{"id": 10, "method": "rollback"}', "bad_params", 10),
    (b'{"id": 11, "method": "restore", "params": {"name": 5}}', "bad_params", 11),
    (b'{"id": 12, "method": "ping", "params": [1]}', "bad_params", 12),
]


@pytest.mark.parametrize("line, code, request_id", BAD_LINES, ids=lambda v: repr(v)[:30])
def test_bad_line_gets_an_error_and_the_connection_goes_on(
    server: ControlServer, handler: Handler, line: bytes, code: str, request_id: Any
) -> None:
    with Raw(server.address) as conn:
        conn.send(line + b"\n")
        answer = conn.line()
        assert answer is not None and answer["id"] == request_id
        assert answer["error"]["code"] == code and answer["error"]["message"]
        conn.request(99, "ping")
        assert conn.line() == {"id": 99, "result": {"pong": True}}
    assert handler.calls == ["ping"]  # nothing bad reached the handler
    assert call(server.address, "ping") == {"pong": True}


def _send_ignoring_hangup(conn: Raw, data: bytes) -> threading.Thread:
    def send() -> None:
        with contextlib.suppress(OSError):  # the server closed on us: that is the point
            conn.send(data)

    thread = threading.Thread(target=send)
    thread.start()
    return thread


def test_line_of_exactly_the_limit_is_read(server: ControlServer) -> None:
    head = b'{"id": 1, "method": "restore", "params": {"name": "'
    tail = b'"}}'
    line = head + b"n" * (MAX_LINE - len(head) - len(tail)) + tail
    assert len(line) == MAX_LINE
    with Raw(server.address) as conn:
        sender = _send_ignoring_hangup(conn, line + b"\n")
        answer = conn.line()
        sender.join()
    assert answer is not None and len(answer["result"]["params"]["name"]) > MAX_LINE - 100


@pytest.mark.parametrize("size, newline", [(MAX_LINE + 1, True), (3 * MAX_LINE, False)])
def test_line_over_the_limit_gets_an_error_then_close(
    server: ControlServer, size: int, newline: bool
) -> None:
    with Raw(server.address) as conn:
        sender = _send_ignoring_hangup(conn, b"x" * size + (b"\n" if newline else b""))
        answer = conn.line()
        assert answer == {
            "id": None,
            "error": {
                "code": "bad_request",
                "message": f"request line longer than {MAX_LINE} bytes; connection closed",
            },
        }
        assert conn.closed()
        sender.join()
    assert call(server.address, "ping") == {"pong": True}


def test_half_message_then_hangup_closes_quietly(server: ControlServer) -> None:
    with Raw(server.address) as conn:
        conn.send(b'{"id": 1, "meth')
        conn.sock.shutdown(socket.SHUT_WR)
        assert conn.closed()  # no error line: there was no request to answer
    assert call(server.address, "ping") == {"pong": True}


def test_hangup_while_a_request_runs_does_not_disturb_the_server(
    server: ControlServer, handler: Handler, caplog: pytest.LogCaptureFixture
) -> None:
    conn = Raw(server.address)
    conn.request(1, "migrate")
    assert handler.in_flight.acquire(timeout=5)
    conn.close()
    handler.release.set()
    assert call(server.address, "ping") == {"pong": True}
    assert call(server.address, "migrate") == {"migrated": True}
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_idle_connections_time_out(
    make_server: Callable[..., ControlServer], handler: Handler
) -> None:
    server = make_server(idle_timeout=1.0)
    with Raw(server.address) as idle, Raw(server.address) as half:
        half.send(b'{"id": 1, "method": "pi')
        assert idle.closed() and half.closed()  # Raw's own timeout is 5 s: closed by the server
    with Raw(server.address) as busy:
        busy.request(1, "migrate")  # a request that outlasts the idle timeout is not cut off
        assert handler.in_flight.acquire(timeout=5)
        with Raw(server.address) as witness:  # opened after: its closing proves the moment
            assert witness.closed()
        handler.release.set()
        assert busy.line() == {"id": 1, "result": {"migrated": True}}
    with Raw(server.address) as active:
        for i in range(6):  # 1.2 s in all, but never quiet for more than a fifth of 1 s
            threading.Event().wait(0.2)
            active.request(i, "ping")
            assert active.line() == {"id": i, "result": {"pong": True}}
