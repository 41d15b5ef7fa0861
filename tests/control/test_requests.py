"""Requests and answers over a real socket: results, progress, several requests per connection."""

from __future__ import annotations

import json
import logging
import threading

import pytest

from zarchd.control.client import call
from zarchd.control.server import ControlServer
from zarchd.core.errors import NotFound, ZarchError

from .helpers import Handler, Raw


def test_call_returns_the_handler_result(server: ControlServer) -> None:
    assert call(server.address, "ping") == {"pong": True}
    assert call(server.address, "prune", {"dry_run": True}) == {
        "method": "prune",
        "params": {"dry_run": True},
    }
    assert call(server.address, "verify", {"name": None}) == {"verified": []}


def test_progress_lines_come_in_order_before_the_single_result(server: ControlServer) -> None:
    with Raw(server.address) as conn:
        conn.request(41, "backup")
        lines = [conn.line() for _ in range(51)]
    assert [line["progress"]["step"] for line in lines[:50]] == list(range(50))
    assert all(line["id"] == 41 for line in lines)
    assert lines[50] == {"id": 41, "result": {"name": "registry-20250101-000000.bak"}}

    seen: list[dict] = []
    assert call(server.address, "backup", on_progress=seen.append) == {
        "name": "registry-20250101-000000.bak"
    }
    assert seen == [{"step": i} for i in range(50)]


def test_progress_that_is_not_json_is_dropped_and_late_progress_is_silent(
    server: ControlServer, handler: Handler
) -> None:
    seen: list[dict] = []
    assert call(server.address, "check", on_progress=seen.append) == "ok"
    assert seen == [{"ok": 1}]
    with Raw(server.address) as conn:
        conn.request(1, "recover")
        assert conn.line() == {"id": 1, "result": {"recovered": True}}
        assert handler.late is not None
        handler.late({"too": "late"})
        conn.request(2, "ping")
        assert conn.line() == {"id": 2, "result": {"pong": True}}


def test_several_requests_per_connection_pipelined_and_in_turn(server: ControlServer) -> None:
    with Raw(server.address) as conn:
        conn.send(
            b"".join(json.dumps({"id": i, "method": "ping"}).encode() + b"\n" for i in (1, 2, 3))
        )
        assert [conn.line() for _ in range(3)] == [
            {"id": i, "result": {"pong": True}} for i in (1, 2, 3)
        ]
        conn.send(b"\n  \n")  # blank lines are ignored, not answered
        conn.request("four", "status")
        assert conn.line()["id"] == "four"  # type: ignore[index]
        conn.request(None, "backups")
        assert conn.line() == {"id": None, "result": {"method": "backups", "params": {}}}


def test_expected_failure_becomes_its_error_code_and_class(server: ControlServer) -> None:
    with Raw(server.address) as conn:
        conn.request(5, "verify", {"name": "missing"})
        assert conn.line() == {
            "id": 5,
            "error": {
                "code": "not_found",
                "message": "no backup named 'missing'; `zarchctl backups` lists them",
            },
        }
    with pytest.raises(NotFound) as info:
        call(server.address, "verify", {"name": "missing"})
    assert info.value.exit_code == 1 and "no backup named" in info.value.message


@pytest.mark.parametrize(
    "name, words",
    [
        ("crash", "internal error: RuntimeError: boom; see the daemon log"),
        ("exit", "internal error: RuntimeError: handler raised SystemExit(3); see the daemon log"),
        ("nonjson", "internal error: TypeError: Object of type object is not JSON serializable"),
    ],
)
def test_unexpected_failure_is_internal_logged_and_the_server_carries_on(
    server: ControlServer, caplog: pytest.LogCaptureFixture, name: str, words: str
) -> None:
    with (
        caplog.at_level(logging.ERROR, logger="zarchd.control"),
        pytest.raises(ZarchError) as info,
    ):
        call(server.address, "verify", {"name": name})
    assert info.value.code == "internal"
    assert words in info.value.message
    errors = [
        r for r in caplog.records if r.levelno == logging.ERROR and r.name == "zarchd.control"
    ]
    assert errors and errors[0].exc_info is not None
    assert call(server.address, "ping") == {"pong": True}


def test_a_long_request_sends_keepalive_lines_until_its_answer(make_server, handler) -> None:
    server = make_server(keepalive=0.1)
    seen: list[dict] = []
    threading.Timer(0.6, handler.release.set).start()
    result = call(server.address, "migrate", {}, on_progress=seen.append, timeout=0.4)
    assert result == {"migrated": True}
    assert len([e for e in seen if e.get("keepalive")]) >= 3
    assert all(e["stage"] == "migrate" for e in seen)
