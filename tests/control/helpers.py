"""A small test handler and a raw line-oriented socket client for the control tests."""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path
from typing import Any

from zarchd.core.errors import NotFound
from zarchd.core.progress import Progress


class Handler:
    """Answers every method quickly, except `migrate`, which blocks until `release` is set."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.release = threading.Event()
        self.in_flight = threading.Semaphore(0)  # one release per slow call that has started
        self.late: Progress | None = None
        self.server: Any = None

    def __call__(self, method: str, params: dict[str, Any], progress: Progress) -> Any:
        self.calls.append(method)
        if method == "ping":
            return {"pong": True}
        if method == "status":
            return {"daemon": {"running": True, "pid": os.getpid()}, "last_error": None}
        if method == "backup":
            for step in range(50):
                progress({"step": step})
            return {"name": "registry-20250101-000000.bak"}
        if method == "check":
            progress({"bad": object()})  # not JSON: dropped, the request still succeeds
            progress({"ok": 1})
            return "ok"
        if method == "recover":
            self.late = progress  # used after the answer went out: must stay silent
            return {"recovered": True}
        if method == "migrate":
            self.in_flight.release()
            self.release.wait(10)
            return {"migrated": True}
        if method == "verify":
            return _verify(params.get("name"))
        if method == "stop" and self.server is not None:
            self.server.stop(timeout=5.0)
            return {"stopping": True}
        return {"method": method, "params": params}


def _verify(name: str | None) -> Any:
    if name == "missing":
        raise NotFound("no backup named 'missing'; `zarchctl backups` lists them")
    if name == "crash":
        raise RuntimeError("boom")
    if name == "exit":
        raise SystemExit(3)
    if name == "nonjson":
        return {"when": object()}
    return {"verified": [name] if name else []}


class Raw:
    """A client that speaks bytes, to send what zarchctl never would."""

    def __init__(self, path: Path, timeout: float = 5.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(self, request_id: Any, method: str, params: dict[str, Any] | None = None) -> None:
        self.send(
            json.dumps({"id": request_id, "method": method, "params": params or {}}).encode()
            + b"\n"
        )

    def line(self) -> dict[str, Any] | None:
        """The next answer line, or None once the server has closed the connection."""
        while b"\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return None
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\n", 1)
        value = json.loads(raw)
        assert isinstance(value, dict)
        return value

    def closed(self) -> bool:
        """True when the server has closed its end (no more data will come)."""
        return self.line() is None

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Raw:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
