"""ControlServer: the daemon's end of the control socket.

An asyncio loop in its own thread accepts and reads connections; handlers run in two thread
pools (quick methods such as ping/status apart from long ones such as backup), so a long
operation never delays `zarchctl status`. Serialising writes is the handler's job, not ours.

We accept connections ourselves (a reader callback on the listening socket) rather than through
asyncio.start_unix_server or sock_accept: on Python 3.11 both can drop a connection accepted just
as the server closes without closing its socket, so that client would hang instead of seeing the
daemon go away. Owning every accepted socket from the first moment lets stop() close each one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from zarchd.app.commands import KEEPALIVE_S
from zarchd.control import connection, listener
from zarchd.control.protocol import MAX_LINE, Handler

log = logging.getLogger("zarchd.control")

BACKLOG = 512
ACCEPT_RETRY = 0.1  # after EMFILE and the like: back off instead of spinning


class ControlServer:
    def __init__(
        self,
        socket_path: Path,
        handler: Handler,
        *,
        idle_timeout: float | None = 60.0,
        max_workers: int = 8,
        allowed_uids: set[int] | None = None,
        keepalive: float = KEEPALIVE_S,
    ) -> None:
        self._path = Path(socket_path)
        self._handler = handler
        self._idle_timeout = idle_timeout if idle_timeout and idle_timeout > 0 else None
        self._max_workers = max_workers
        self._keepalive = keepalive
        self._allowed = frozenset(
            allowed_uids if allowed_uids is not None else {os.getuid(), os.geteuid(), 0}
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._listener: socket.socket | None = None
        self._retry: asyncio.TimerHandle | None = None
        self._settings: connection.Settings | None = None
        self._tasks: dict[asyncio.Task[None], socket.socket] = {}  # every accepted connection
        self._conns: dict[
            asyncio.Task[None], connection.ConnState
        ] = {}  # those with streams set up
        self._ident: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self._stopped = False

    @property
    def alive(self) -> bool:
        """For the systemd watchdog: the serving thread still runs."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def address(self) -> Path:
        return self._path

    def start(self) -> None:
        """Bind the socket (ZarchError if another daemon answers on it) and serve in a thread."""
        with self._lock:
            if self._thread is not None:
                raise RuntimeError("ControlServer.start() called twice")
            self._listener, self._ident = listener.bind_private(self._path, BACKLOG)
            self._listener.setblocking(False)  # accepted sockets start blocking; set per socket
            self._settings = connection.Settings(
                handler=self._handler,
                quick_pool=ThreadPoolExecutor(
                    self._max_workers, thread_name_prefix="zarchd-ctl-quick"
                ),
                work_pool=ThreadPoolExecutor(
                    self._max_workers, thread_name_prefix="zarchd-ctl-work"
                ),
                idle_timeout=self._idle_timeout,
                allowed_uids=self._allowed,
                keepalive=self._keepalive,
            )
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._run, name="zarchd-control", daemon=True)
            self._thread.start()
        log.info("control socket listening on %s", self._path)

    def _run(self) -> None:
        loop = self._loop
        assert loop is not None and self._listener is not None
        asyncio.set_event_loop(loop)
        loop.add_reader(self._listener.fileno(), self._accept_ready)
        try:
            loop.run_forever()
            # Closed transports release their sockets in callbacks scheduled for the next
            # iterations; run those before closing the loop, or the sockets stay open.
            for _ in range(3):
                loop.run_until_complete(asyncio.sleep(0))
        finally:
            loop.close()

    def _accept_ready(self) -> None:
        """Accept everything pending, synchronously: no accepted socket is ever in limbo."""
        assert self._loop is not None and self._listener is not None
        for _ in range(BACKLOG):
            try:
                conn, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # EMFILE and the like: back off instead of spinning
                log.warning("control socket: accept failed (%s); retrying", exc)
                self._loop.remove_reader(self._listener.fileno())
                self._retry = self._loop.call_later(ACCEPT_RETRY, self._resume_accepting)
                return
            conn.setblocking(False)
            task = self._loop.create_task(self._on_accepted(conn))
            self._tasks[task] = conn
            task.add_done_callback(self._forget)

    def _resume_accepting(self) -> None:
        if self._loop is not None and self._listener is not None and not self._stopped:
            self._loop.add_reader(self._listener.fileno(), self._accept_ready)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)

    async def _on_accepted(self, conn: socket.socket) -> None:
        task = asyncio.current_task()
        assert task is not None and self._settings is not None
        try:
            reader, writer = await asyncio.open_unix_connection(sock=conn, limit=MAX_LINE)
            state = connection.ConnState(writer)
            self._conns[task] = state
            await connection.serve(self._settings, state, reader, writer)
        except asyncio.CancelledError:
            pass  # stop() gave up waiting for this one; _shutdown closes its socket
        except OSError as exc:
            log.debug("control connection lost during set-up: %s", exc)
        finally:
            self._conns.pop(task, None)
            conn.close()  # usually closed already by its transport; harmless then

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, let answers in progress finish (up to `timeout`), close, unlink socket.

        Called from inside a handler (e.g. for the `stop` method) it returns at once and stops in
        the background, so that handler's own answer still reaches its client.
        """
        if getattr(connection.worker_state, "active", False):
            threading.Thread(
                target=self.stop, args=(timeout,), name="zarchd-control-stop", daemon=True
            ).start()
            return
        with self._lock:
            if self._stopped or self._loop is None or self._thread is None:
                self._stopped = True
                return
            self._stopped = True
        if threading.current_thread() is self._thread:
            raise RuntimeError("ControlServer.stop() cannot run on the server's own event loop")
        future = asyncio.run_coroutine_threadsafe(self._shutdown(timeout), self._loop)
        try:
            future.result(timeout + 2.0)
        except Exception as exc:
            log.warning("control server did not shut down cleanly: %r", exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        self._release()
        log.info("control socket closed")

    async def _shutdown(self, grace: float) -> None:
        assert self._listener is not None and self._settings is not None
        loop = asyncio.get_running_loop()
        loop.remove_reader(self._listener.fileno())
        if self._retry is not None:
            self._retry.cancel()
        self._listener.close()  # connections still in the backlog see a reset
        self._remove_socket()
        self._settings.closing.set()
        deadline = loop.time() + grace
        # Idle connections are closed at once (their pending read ends); answers in progress get
        # until the deadline; connections still being set up see `closing` and hang up.
        while self._tasks:
            for state in list(self._conns.values()):
                if not state.busy:
                    state.writer.close()
            remaining = deadline - loop.time()
            if remaining <= 0:
                left = dict(self._tasks)
                for task, conn in left.items():
                    task.cancel()
                    conn.close()  # a task cancelled before it ever ran must not leak its socket
                await asyncio.wait(list(left), timeout=1.0)
                return
            await asyncio.wait(
                list(self._tasks), timeout=min(remaining, 0.05), return_when=asyncio.FIRST_COMPLETED
            )

    def _remove_socket(self) -> None:
        if self._ident is not None:
            listener.remove_if_ours(self._path, self._ident)

    def _release(self) -> None:
        self._remove_socket()
        if self._listener is not None:
            self._listener.close()
        if self._settings is not None:
            self._settings.quick_pool.shutdown(wait=False, cancel_futures=True)
            self._settings.work_pool.shutdown(wait=False, cancel_futures=True)
