"""The message format on its own: validation, error codes, encoding."""

from __future__ import annotations

import json

import pytest

from zarchd.control.protocol import (
    MAX_LINE,
    METHODS,
    REQUIRED,
    encode,
    parse_line,
    validate_request,
)
from zarchd.core.errors import ProtocolError


def test_every_zarchctl_command_is_a_method() -> None:
    expected = {
        "ping",
        "health",
        "status",
        "backup",
        "backups",
        "prune",
        "verify",
        "restore",
        "recover",
        "migrate",
        "rollback",
        "check",
        "repair",
        "pause",
        "resume",
        "reload",
        "stop",
        "log",
        "remote list",
        "remote fleet",
    }
    assert set(METHODS) == expected
    # restore names its backup or gives `before` instead: Operations.restore checks which
    assert {"rollback": {"to"}} == REQUIRED
    assert MAX_LINE == 1024 * 1024


@pytest.mark.parametrize(
    "obj, expected",
    [
        ({"id": 1, "method": "ping"}, (1, "ping", {})),
        ({"id": "x", "method": "ping", "params": None}, ("x", "ping", {})),
        ({"method": "status"}, (None, "status", {})),
        (
            {"id": 2, "method": "prune", "params": {"dry_run": True}},
            (2, "prune", {"dry_run": True}),
        ),
        ({"id": 3, "method": "verify", "params": {"name": None}}, (3, "verify", {"name": None})),
        (
            {"id": 4, "method": "migrate", "params": {"dry_run": False, "backup_only": True}},
            (4, "migrate", {"dry_run": False, "backup_only": True}),
        ),
        (
            {"id": 5, "method": "rollback", "params": {"to": "0003_x"}},
            (5, "rollback", {"to": "0003_x"}),
        ),
    ],
)
def test_valid_requests(obj: dict, expected: tuple) -> None:
    assert validate_request(obj) == expected


@pytest.mark.parametrize(
    "obj, code, request_id, words",
    [
        ([1], "bad_request", None, "JSON object"),
        ({"id": True, "method": "ping"}, "bad_request", None, "id must be"),
        ({"id": 1.5, "method": "ping"}, "bad_request", None, "id must be"),
        ({"id": 1, "method": "ping", "jsonrpc": "2.0"}, "bad_request", 1, "unknown request field"),
        ({"id": 1}, "bad_request", 1, "no method"),
        ({"id": 1, "method": "rm -rf"}, "unknown_method", 1, "known: backup, backups"),
        ({"id": 1, "method": "ping", "params": []}, "bad_params", 1, "must be a JSON object"),
        (
            {"id": 1, "method": "prune", "params": {"dry_run": 1}},
            "bad_params",
            1,
            "must be true/false",
        ),
        ({"id": 1, "method": "verify", "params": {"name": 3}}, "bad_params", 1, "a string or null"),
        (
            {"id": 1, "method": "restore", "params": {"path": "/etc/passwd"}},
            "bad_params",
            1,
            "unknown param 'path'",
        ),
        (
            {"id": 1, "method": "restore", "params": {"name": None, "before": 5}},
            "bad_params",
            1,
            "a string or null",
        ),
        ({"id": 1, "method": "rollback"}, "bad_params", 1, "missing required param(s): to"),
    ],
)
def test_invalid_requests(obj: object, code: str, request_id: object, words: str) -> None:
    with pytest.raises(ProtocolError) as info:
        validate_request(obj)
    assert info.value.code == code
    assert info.value.request_id == request_id  # type: ignore[attr-defined]
    assert words in info.value.message


def test_error_messages_never_echo_a_huge_value() -> None:
    with pytest.raises(ProtocolError) as info:
        validate_request({"id": 1, "method": "x" * 100_000})
    assert len(info.value.message) < 400


@pytest.mark.parametrize("line", [b"{", b"\xff{}", b'{"id": NaN}', b"[" * 50_000, b"1e5000x"])
def test_parse_line_rejects_what_is_not_json(line: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_line(line)
    assert info.value.code == "bad_request"


def test_encode_is_one_strict_ascii_line() -> None:
    raw = encode({"id": 1, "result": {"name": "café\nbar"}})
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1
    assert json.loads(raw) == {"id": 1, "result": {"name": "café\nbar"}}
    raw.decode("ascii")
    with pytest.raises(ValueError):
        encode({"id": 1, "result": float("nan")})
