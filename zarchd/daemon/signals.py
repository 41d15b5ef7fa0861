"""The daemon's signal handlers, installed for the length of a `with` block and then restored.

Handlers only call back (uvicorn's habit: set a flag, wake the loop). Python lets only the main
thread install handlers, so a daemon run in another thread (the in-process tests) skips them and
is stopped with `Daemon.request_stop()` instead; there SIGXFSZ keeps the process's own setting
(a file-size limit then kills the process instead of failing the write).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

Handler = Callable[[int, FrameType | None], object]


@contextlib.contextmanager
def installed(on_stop: Callable[[], None], on_reload: Callable[[], None]) -> Iterator[bool]:
    """SIGTERM/SIGINT -> on_stop, SIGHUP -> on_reload, SIGXFSZ ignored; yields whether they
    were installed (False off the main thread). The previous handlers come back on exit."""
    if threading.current_thread() is not threading.main_thread():
        yield False
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        on_stop()

    def reload(signum: int, frame: FrameType | None) -> None:
        on_reload()

    wanted: dict[signal.Signals, Handler | int] = {
        signal.SIGTERM: stop,
        signal.SIGINT: stop,
        signal.SIGHUP: reload,
        # Over a file-size limit, fail the write (BackupError) instead of being killed.
        signal.SIGXFSZ: signal.SIG_IGN,
    }
    previous = {sig: signal.getsignal(sig) for sig in wanted}
    try:
        for sig, handler in wanted.items():
            signal.signal(sig, handler)
        yield True
    finally:
        for sig, old in previous.items():
            # None: a handler not set from Python; the default is the closest we can restore.
            signal.signal(sig, signal.SIG_DFL if old is None else old)
