"""Real `zarchd run` and `zarchctl` subprocesses for end-to-end tests."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
# A backup's name as users see it (an independent spelling of zarchd.backups.names' pattern).
NAME = re.compile(r"^registry-\d{8}-\d{6}(-zarchd)?(-\d+)?\.bak$")
# The name zarchd gives a new backup (7zarch-go never writes `-zarchd`).
OUR_NAME = re.compile(r"^registry-\d{8}-\d{6}-zarchd(-\d+)?\.bak$")
# A daemon that backs up only at start (catch-up) and on request.
QUIET = '[backup]\ninterval = "1h"\non_change = false\n'


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def add_archive(registry: Path, n: int, *, wal: bool = False) -> None:
    """A write as 7zarch-go makes it: one row, committed (in WAL mode when `wal`)."""
    conn = sqlite3.connect(registry)
    if wal:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "INSERT INTO archives (name, path, size, created) VALUES (?, ?, ?, ?)",
        (f"a{n}.7z", f"/x/a{n}.7z", n, "2026-01-01 00:00:00"),
    )
    conn.commit()
    conn.close()


def backups(directory: Path) -> list[str]:
    """The backups in `directory`, oldest first (names sort by time)."""
    return sorted(p.name for p in directory.iterdir() if NAME.match(p.name))


def ctl(
    registry: Path,
    *args: str,
    config: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    prefix: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """`zarchctl ARGS` on `registry` (via ZARCH_REGISTRY), without a terminal. No traceback may
    ever reach a user, so none may appear in its output."""
    cmd = [*prefix, *command("zarchctl"), *args]
    if config is not None:
        cmd += ["--config", str(config)]
    res = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env={**os.environ, "ZARCH_REGISTRY": str(registry), **(env or {})},
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in res.stdout + res.stderr, res.stdout + res.stderr
    return res


def zarchd_run(
    config: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`zarchd run` expected to end by itself (a refused start); no traceback in its output."""
    res = subprocess.run(
        [*command("zarchd"), "run", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in res.stdout + res.stderr, res.stderr
    return res


def clean(res: subprocess.CompletedProcess[str]) -> str:
    """The combined output, after checking that no traceback reached the user."""
    out = res.stdout + res.stderr
    assert "Traceback" not in out, out
    return out


def command(name: str) -> list[str]:
    """The installed entry point when there is one (the real thing), else the module."""
    script = BIN / name
    if script.exists():
        return [str(script)]
    found = shutil.which(name)
    if found:
        return [found]
    return [sys.executable, "-m", f"zarchd.cli.{name}"]


def wait_for(
    predicate: Callable[[], Any],
    timeout: float = 10.0,
    interval: float = 0.05,
    what: str = "condition",
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Daemon:
    """One `zarchd run` on a tmp registry, with its own config file, socket and log."""

    def __init__(
        self, root: Path, registry: Path, *, config: str = "", env: dict[str, str] | None = None
    ) -> None:
        self.root = root
        self.registry = registry
        self.socket = root / "ctl.sock"
        self.config = root / "zarchd.toml"
        self.config.write_text(
            f'[registry]\npath = "{registry}"\n[control]\nsocket = "{self.socket}"\n' + config
        )
        self.log = root / "zarchd.log"
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *, wait: bool = True) -> Daemon:
        # Open for the daemon's whole life: stop() closes it.
        self._logfh = open(self.log, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*command("zarchd"), "run", "--config", str(self.config)],
            stdout=self._logfh,
            stderr=self._logfh,
            env=self.env,
        )
        if wait:
            wait_for(self.ready, timeout=20, what=f"zarchd to answer ping (log: {self.log_text()})")
        return self

    def ready(self) -> bool:
        if self.proc and self.proc.poll() is not None:
            raise AssertionError(f"zarchd exited with {self.proc.returncode}: {self.log_text()}")
        return self.ctl("ping", check=False).returncode == 0

    def ctl(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        cmd = command("zarchctl") + list(args[:1]) + ["--config", str(self.config)] + list(args[1:])
        res = subprocess.run(
            cmd, capture_output=True, text=True, env=self.env, input=input, timeout=timeout
        )
        if check and res.returncode != 0:
            raise AssertionError(
                f"zarchctl {' '.join(args)} -> {res.returncode}\n"
                f"stdout: {res.stdout}\nstderr: {res.stderr}"
            )
        return res

    def json(self, *args: str) -> Any:
        return json.loads(self.ctl(*args, "--json").stdout)

    def wait_log(self, text: str, count: int = 1, timeout: float = 20) -> str:
        """Wait until the daemon's log holds `text` at least `count` times; returns the log."""
        return str(
            wait_for(
                lambda: (log := self.log_text()).count(text) >= count and log,
                timeout=timeout,
                what=f"{count}x {text!r} in the log (log: {self.log_text()})",
            )
        )

    def start_with_backup(self) -> list[str]:
        """Start and wait for the catch-up backup (one zarchd made); returns the backups then."""
        self.start()
        directory = self.registry.parent
        wait_for(
            lambda: any(OUR_NAME.match(name) for name in backups(directory)),
            what=f"the catch-up backup (log: {self.log_text()})",
        )
        return backups(directory)

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 15) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(
                    f"zarchd did not stop within {timeout}s: {self.log_text()}"
                ) from None
        self._logfh.close()
        return self.proc.returncode

    def __enter__(self) -> Daemon:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            self.stop()
            if exc_type is not None:  # a failed test shows what the daemon said (pytest's capture)
                print(f"--- zarchd log of the failed test ({self.log}) ---\n{self.log_text()}")
        finally:
            if self.proc and self.proc.poll() is None:
                self.proc.kill()
