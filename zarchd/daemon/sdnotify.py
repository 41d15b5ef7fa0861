"""systemd's sd_notify protocol without libsystemd: one datagram of KEY=value lines.

Without NOTIFY_SOCKET (not under systemd, or Type=simple) everything is a silent no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

log = logging.getLogger(__name__)


class Notifier:
    def __init__(
        self,
        address: str | bytes | None,
        *,
        watchdog_usec: str | None = None,
        watchdog_pid: str | None = None,
    ) -> None:
        self._address = address
        self._watchdog_usec = watchdog_usec
        self._watchdog_pid = watchdog_pid
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._failed = False  # log the first failure only: systemd gone is not worth a log flood

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Notifier:
        raw = env.get("NOTIFY_SOCKET", "")
        address: str | bytes | None = None
        if raw.startswith("@"):
            address = b"\0" + raw[1:].encode()  # Linux abstract namespace
        elif raw.startswith("/"):
            address = raw
        elif raw:
            log.warning("ignoring NOTIFY_SOCKET=%r: not a socket path or @abstract name", raw)
        return cls(
            address, watchdog_usec=env.get("WATCHDOG_USEC"), watchdog_pid=env.get("WATCHDOG_PID")
        )

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def send(self, **fields: str) -> None:
        """Send e.g. READY=1 and STATUS=... in one datagram; errors are logged once, not raised."""
        if self._address is None or not fields:
            return
        # A newline inside a value would start a bogus new assignment.
        payload = "".join(f"{k}={str(v).replace(chr(10), ' ')}\n" for k, v in fields.items())
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(
                        socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                    )
                self._sock.sendto(payload.encode(), self._address)
                self._failed = False
            except OSError as exc:
                if not self._failed:
                    log.warning("systemd notify to %r failed: %s", self._address, exc)
                self._failed = True

    def ready(self, status: str) -> None:
        self.send(READY="1", STATUS=status)

    def status(self, text: str) -> None:
        self.send(STATUS=text)

    def stopping(self) -> None:
        self.send(STOPPING="1")

    def watchdog(self) -> None:
        self.send(WATCHDOG="1")

    @contextmanager
    def extending(
        self, status: str, *, every_s: float = 30.0, by_s: float = 120.0
    ) -> Iterator[None]:
        """While the block runs, tell systemd every `every_s` to wait `by_s` longer for READY
        (EXTEND_TIMEOUT_USEC, systemd 236+): a long start-up migration is never killed by
        TimeoutStartSec while it runs; a stuck one is stopped by its own step limit."""
        if self._address is None:
            yield
            return
        done = threading.Event()

        def keep_extending() -> None:
            while True:
                self.send(EXTEND_TIMEOUT_USEC=str(int(by_s * 1_000_000)), STATUS=status)
                if done.wait(every_s):
                    return

        thread = threading.Thread(target=keep_extending, name="zarchd-sd-extend", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    def watchdog_interval(self) -> float | None:
        """Seconds between WATCHDOG=1 pings (half of WATCHDOG_USEC), or None if not asked for us."""
        if not self._watchdog_usec:
            return None
        if self._watchdog_pid and self._watchdog_pid.strip() != str(os.getpid()):
            return None  # the watchdog is meant for another process (we were forked/exec'd)
        try:
            usec = int(self._watchdog_usec)
        except ValueError:
            log.warning("ignoring WATCHDOG_USEC=%r: not an integer", self._watchdog_usec)
            return None
        return usec / 2_000_000 if usec > 0 else None

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None
