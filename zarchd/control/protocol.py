"""The control protocol: newline-delimited JSON; a request line in, progress lines, one answer out.

Request  {"id": 1, "method": "backup", "params": {}}
Answers  {"id": 1, "progress": {...}}*  then  {"id": 1, "result": ...}
                                        or    {"id": 1, "error": {"code", "message"}}

Validation is strict (unknown fields and params are errors) so a client/daemon version mismatch
shows up as a clear message instead of a silently ignored option.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from zarchd.app.commands import COMMANDS, NoneType, ParamType
from zarchd.core.errors import ProtocolError
from zarchd.core.progress import Progress

MAX_LINE = 1024 * 1024  # bytes in one request line, newline excluded

# command -> accepted params and their types, and the required ones: read from the command table.
# (The request field stays "method": it is the wire contract zarchctl and scripts speak.)
METHODS: dict[str, dict[str, ParamType]] = {
    name: {key: spec.type for key, spec in entry.params.items()} for name, entry in COMMANDS.items()
}
REQUIRED: dict[str, frozenset[str]] = {
    name: required
    for name, entry in COMMANDS.items()
    if (required := frozenset(key for key, spec in entry.params.items() if spec.required))
}
# Error codes the protocol layer itself produces (besides the handler's ZarchError codes).
BAD_REQUEST = "bad_request"
UNKNOWN_METHOD = "unknown_method"
BAD_PARAMS = "bad_params"
INTERNAL = "internal"
PROTOCOL_CODES = frozenset({BAD_REQUEST, UNKNOWN_METHOD, BAD_PARAMS})

RequestId = int | str | None
Handler = Callable[[str, dict[str, Any], Progress], Any]

_FIELDS = frozenset({"id", "method", "params"})


def protocol_error(code: str, message: str, request_id: RequestId = None) -> ProtocolError:
    """A ProtocolError carrying a specific code and the id to answer with."""
    err = ProtocolError(message)
    err.code = code
    err.request_id = request_id  # type: ignore[attr-defined]
    return err


def _short(value: object, limit: int = 60) -> str:
    """repr() cut short: error messages must never echo a megabyte back."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_name(expected: ParamType) -> str:
    types = expected if isinstance(expected, tuple) else (expected,)
    names = {bool: "true/false", str: "a string", int: "an integer", NoneType: "null"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def _type_ok(value: object, expected: ParamType) -> bool:
    types = expected if isinstance(expected, tuple) else (expected,)
    # bool is an int subclass in Python; JSON keeps them apart, so do we.
    if isinstance(value, bool):
        return bool in types
    return isinstance(value, types)


def parse_line(line: bytes) -> object:
    """Decode one request line; anything that is not a UTF-8 JSON document is a bad_request."""
    try:
        return json.loads(line.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = "nesting too deep" if isinstance(exc, RecursionError) else str(exc)
        raise protocol_error(BAD_REQUEST, f"request is not valid JSON ({reason})") from None


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def request_id_of(obj: object) -> RequestId:
    """The id to answer with: the request's own when it is usable, else null."""
    if isinstance(obj, dict):
        rid = obj.get("id")
        if rid is None or (isinstance(rid, (int, str)) and not isinstance(rid, bool)):
            return rid
    return None


def validate_request(obj: object) -> tuple[RequestId, str, dict[str, Any]]:
    """Check a decoded request; returns (id, command, params) or raises ProtocolError."""
    if not isinstance(obj, dict):
        raise protocol_error(
            BAD_REQUEST, f"a request must be a JSON object, not {type(obj).__name__}"
        )
    rid = request_id_of(obj)
    if "id" in obj and rid is None and obj["id"] is not None:
        raise protocol_error(
            BAD_REQUEST, f"request id must be an integer or a string, not {_short(obj['id'])}"
        )
    extra = sorted(set(obj) - _FIELDS)
    if extra:
        raise protocol_error(BAD_REQUEST, f"unknown request field(s): {_short(extra)}", rid)
    command = obj.get("method")
    if not isinstance(command, str):
        raise protocol_error(BAD_REQUEST, "request has no method (a string)", rid)
    if command not in METHODS:
        known = ", ".join(sorted(METHODS))
        raise protocol_error(
            UNKNOWN_METHOD, f"unknown method {_short(command)}; known: {known}", rid
        )
    params = obj.get("params")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise protocol_error(BAD_PARAMS, f"{command}: params must be a JSON object", rid)
    allowed = METHODS[command]
    for key, value in params.items():
        if key not in allowed:
            accepted = ", ".join(sorted(allowed)) or "none"
            raise protocol_error(
                BAD_PARAMS, f"{command}: unknown param {_short(key)} (accepted: {accepted})", rid
            )
        if not _type_ok(value, allowed[key]):
            raise protocol_error(
                BAD_PARAMS,
                f"{command}: param {key!r} must be {_type_name(allowed[key])}, not {_short(value)}",
                rid,
            )
    missing = sorted(REQUIRED.get(command, frozenset()) - set(params))
    if missing:
        raise protocol_error(
            BAD_PARAMS, f"{command}: missing required param(s): {', '.join(missing)}", rid
        )
    return rid, command, dict(params)


def encode(obj: dict[str, Any]) -> bytes:
    """One JSON line. ASCII-only and strict (no NaN), so any JSON parser can read it back."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode("ascii") + b"\n"


def request(request_id: RequestId, command: str, params: dict[str, Any] | None = None) -> bytes:
    return encode({"id": request_id, "method": command, "params": params or {}})


def error_line(request_id: RequestId, code: str, message: str) -> bytes:
    return encode({"id": request_id, "error": {"code": code, "message": message}})
