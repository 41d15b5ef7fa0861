"""The middle layer run in this process: a config on a short socket path, a clock the test moves,
and a real Daemon in a thread that talks over its real socket (no subprocess)."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from zarchd.control import client
from zarchd.core.config import Config, load_config
from zarchd.daemon.daemon import Daemon

START = datetime(2026, 3, 14, 12, 0, 0, tzinfo=UTC)
# A daemon that backs up only at start (catch-up) and on request.
QUIET = '[backup]\ninterval = "1h"\non_change = false\n'


class FixedClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> datetime:
        self.now += timedelta(**kw)
        return self.now


def wait_for(predicate: Callable[[], object], timeout: float = 10.0, what: str = "it") -> None:
    """Poll a condition another thread makes true, with a deadline (never a bare sleep)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def short_dir() -> Path:
    """A directory under /tmp: AF_UNIX paths hold at most 107 bytes, pytest's tmp_path is long."""
    return Path(tempfile.mkdtemp(prefix="zi-", dir="/tmp"))


def write_config(root: Path, registry: Path, extra: str = "", *, socket: Path) -> Path:
    path = root / "zarchd.toml"
    path.write_text(
        f'[registry]\npath = "{registry}"\n[control]\nsocket = "{socket}"\n'
        '[log]\nlevel = "debug"\n' + extra
    )
    return path


class DaemonThread:
    """`with DaemonThread(cfg) as d:` a started daemon (ready), stopped and joined on exit."""

    def __init__(
        self, config: Config, *, config_path: Path | None = None, now: FixedClock | None = None
    ) -> None:
        self.daemon = Daemon(config, config_path=config_path, now=now or FixedClock())
        self.code: int | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="test-daemon", daemon=True)

    def _run(self) -> None:
        try:
            self.code = self.daemon.run()
        except BaseException as exc:  # handed to the test, which fails with it
            self.error = exc

    @property
    def socket(self) -> Path:
        return self.daemon.config.socket_path

    def start(self, timeout: float = 20.0) -> DaemonThread:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.daemon.ready.wait(0.05):  # the event, polled only to notice a crash
            if not self.thread.is_alive():
                raise AssertionError(f"the daemon ended before it was ready: {self.error!r}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the daemon was not ready within {timeout}s")
        return self

    def call(self, method: str, params: dict[str, Any] | None = None, **kw: Any) -> Any:
        return client.call(self.socket, method, params, timeout=kw.pop("timeout", 30.0), **kw)

    def stop(self, timeout: float = 15.0) -> int | None:
        self.daemon.request_stop()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"the daemon did not stop within {timeout}s"
        if self.error is not None:
            raise self.error
        return self.code

    def __enter__(self) -> DaemonThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def config_in(root: Path, registry: Path, extra: str = "") -> tuple[Config, Path]:
    """A config file in `root` for `registry`, its socket in `root`; loaded and its path."""
    path = write_config(root, registry, extra, socket=root / "ctl.sock")
    return load_config(path), path


def cleanup(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)


def iter_short_dir() -> Iterator[Path]:
    root = short_dir()
    yield root
    cleanup(root)
