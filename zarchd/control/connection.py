"""Serving one control connection: admit the peer, then read a request, answer it, repeat.

Runs on the server's event loop; the handler runs in a worker thread so blocking SQLite work
never stalls other connections. Progress events hop back to the loop with call_soon_threadsafe,
which also keeps them ahead of the final answer (the answer is scheduled the same way, later).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from zarchd.app.commands import is_quick
from zarchd.control.peercred import peer_cred
from zarchd.control.protocol import (
    BAD_REQUEST,
    INTERNAL,
    MAX_LINE,
    Handler,
    RequestId,
    encode,
    error_line,
    parse_line,
    validate_request,
)
from zarchd.core.errors import Forbidden, ProtocolError, ZarchError

log = logging.getLogger("zarchd.control")

MAX_BUFFERED_PROGRESS = (
    1024 * 1024
)  # a client that stops reading loses progress lines, never its answer
REFUSAL_DRAIN = 1.0

worker_state = threading.local()  # .active is True inside a handler call (see ControlServer.stop)


@dataclass
class ConnState:
    writer: asyncio.StreamWriter
    busy: bool = False  # a request is being answered; shutdown lets it finish


@dataclass
class Settings:
    handler: Handler
    quick_pool: Executor
    work_pool: Executor
    idle_timeout: float | None
    allowed_uids: frozenset[int]
    keepalive: float  # seconds between keep-alive progress lines (commands.KEEPALIVE_S)
    closing: asyncio.Event = field(default_factory=asyncio.Event)


class _Request:
    """Progress sink for one request; silent once the answer has gone out."""

    def __init__(
        self, request_id: RequestId, loop: asyncio.AbstractEventLoop, writer: asyncio.StreamWriter
    ) -> None:
        self.request_id = request_id
        self.loop = loop
        self.writer = writer
        self.done = False

    def progress(self, event: dict[str, Any]) -> None:
        if self.done:
            return
        try:
            line = encode({"id": self.request_id, "progress": event})
        except (TypeError, ValueError) as exc:
            log.warning("dropped a progress event that is not JSON (%s)", exc)
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: the server is stopping
            self.loop.call_soon_threadsafe(self._push, line)

    def _push(self, line: bytes) -> None:
        transport = self.writer.transport
        if (
            self.done
            or transport.is_closing()
            or transport.get_write_buffer_size() > MAX_BUFFERED_PROGRESS
        ):
            return
        self.writer.write(line)


def _call(handler: Handler, command: str, params: dict[str, Any], request: _Request) -> Any:
    """Runs in a worker thread. BaseExceptions become plain ones so they cannot stop the loop."""
    worker_state.active = True
    try:
        return handler(command, params, request.progress)
    except (KeyboardInterrupt, SystemExit) as exc:
        raise RuntimeError(f"handler raised {type(exc).__name__}({exc})") from exc
    finally:
        worker_state.active = False


async def serve(
    settings: Settings, state: ConnState, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """The life of one connection. Never raises: a broken client closes only its own socket."""
    try:
        if not await _admit(settings, writer):
            return
        while not settings.closing.is_set():
            line = await _read_line(settings, reader, writer)
            if line is None:
                return
            if not line.strip():
                continue  # blank lines are harmless keep-alives
            state.busy = True
            try:
                answer = await _answer(settings, line, writer)
                writer.write(answer)
                if not await _drain(settings, writer):
                    return
            finally:
                state.busy = False
    except (ConnectionError, OSError):
        pass  # the client went away mid-answer
    except Exception:
        log.exception("control connection failed")
    finally:
        writer.close()


async def _drain(settings: Settings, writer: asyncio.StreamWriter) -> bool:
    """Flush; a client that does not read its answer within the idle timeout is dropped."""
    try:
        await asyncio.wait_for(writer.drain(), settings.idle_timeout)
    except TimeoutError:
        return False
    return True


async def _admit(settings: Settings, writer: asyncio.StreamWriter) -> bool:
    try:
        cred = peer_cred(writer.get_extra_info("socket"))
    except OSError as exc:
        log.warning("refused a control connection: cannot read its peer credentials (%s)", exc)
        message = "permission denied: zarchd cannot verify who you are on this system"
    else:
        if cred.uid in settings.allowed_uids:
            return True
        log.warning("refused a control connection from uid %d (pid %s)", cred.uid, cred.pid)
        message = (
            f"permission denied: uid {cred.uid} may not control this zarchd (it runs as uid "
            f"{os.geteuid()}); run zarchctl as that user or as root"
        )
    writer.write(error_line(None, Forbidden.code, message))
    with contextlib.suppress(TimeoutError, ConnectionError):
        await asyncio.wait_for(writer.drain(), REFUSAL_DRAIN)
    return False


async def _read_line(
    settings: Settings, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> bytes | None:
    """The next complete request line, or None when the connection should close."""
    try:
        line = await asyncio.wait_for(reader.readline(), settings.idle_timeout)
    except TimeoutError:
        return None  # idle (or a half message that never finished)
    except ValueError:  # the line exceeded MAX_LINE; the reader already dropped what it buffered
        writer.write(
            error_line(
                None, BAD_REQUEST, f"request line longer than {MAX_LINE} bytes; connection closed"
            )
        )
        await _drain(settings, writer)
        return None
    if not line.endswith(b"\n"):
        return None  # end of stream, possibly after half a message: nothing to answer
    return line


async def _answer(settings: Settings, line: bytes, writer: asyncio.StreamWriter) -> bytes:
    """The final answer line for one request line."""
    try:
        request_id, command, params = validate_request(parse_line(line))
    except ProtocolError as exc:
        return error_line(getattr(exc, "request_id", None), exc.code, exc.message)
    loop = asyncio.get_running_loop()
    request = _Request(request_id, loop, writer)
    # Cheap commands get their own pool, so long operations filling the other never delay them.
    pool = settings.quick_pool if is_quick(command) else settings.work_pool
    try:
        future = loop.run_in_executor(pool, _call, settings.handler, command, params, request)
        while not (await asyncio.wait({future}, timeout=settings.keepalive))[0]:
            request.progress({"stage": command, "message": "still working", "keepalive": True})
        return encode({"id": request_id, "result": future.result()})
    except ZarchError as exc:
        return error_line(request_id, exc.code, exc.message)
    except Exception as exc:
        log.error("control command %r failed", command, exc_info=exc)
        return error_line(
            request_id, INTERNAL, f"internal error: {type(exc).__name__}: {exc}; see the daemon log"
        )
    finally:
        request.done = True
