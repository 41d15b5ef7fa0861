"""Run rclone as a subprocess: a clean environment, bounded time, exit codes made into errors.

rclone is the engine for every remote (S3, B2, SFTP, WebDAV, crypt, ...); zarchd never speaks a
storage protocol itself. Facts that shape this module (rclone 1.60, measured):

- `AWS_CA_BUNDLE` in the environment breaks the S3 backend ("LoadCustomCABundleError ...
  unsupported transport"), so the child gets only what rclone needs, never the daemon's whole
  environment: PATH, HOME, TMPDIR, the XDG config/cache dirs (rclone's own config lookup),
  SSH_AUTH_SOCK (SFTP keys in an agent), proxy settings and every RCLONE_* variable (remotes
  defined as RCLONE_CONFIG_<NAME>_*, RCLONE_CONFIG_PASS for an encrypted config).
- Exit codes: 3/4 not found, 5 temporary, 6 a less serious error that retrying does not fix
  (e.g. an immutable object), 7 fatal (bad credentials, access denied), 9 nothing transferred.
  A refused connection exits 1 ("couldn't connect"), so 1 and 2 are refined from stderr.
- With default retries a refused connection takes 4.6 s; a daemon retries on its own schedule,
  so rclone's retries are kept low and it fails fast.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from zarchd.core.config import RemoteConfig
from zarchd.core.errors import Cancelled, RemoteError

BINARY = "rclone"
CANCEL_POLL_S = 0.5
DEFAULT_TIMEOUT = 3600.0  # a whole transfer; listings pass their own, shorter bound
_KEEP = ("PATH", "HOME", "TMPDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "SSH_AUTH_SOCK", "LANG")
_PROXY = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
# Fail fast: the upload queue retries with backoff, rclone need not retry for minutes itself.
_FAST = ["--retries", "1", "--low-level-retries", "2", "--contimeout", "10s", "--timeout", "60s"]
_KINDS = {3: "not_found", 4: "not_found", 5: "temporary", 6: "immutable", 7: "fatal", 9: "nothing"}
_NETWORK = re.compile(
    r"connection refused|couldn't connect|no such host|i/o timeout|connection reset|"
    r"network is unreachable|timeout|temporar|EOF|broken pipe|503|502|500 ",
    re.IGNORECASE,
)


def clean_env(source: Mapping[str, str]) -> dict[str, str]:
    """The environment an rclone child gets: only what rclone needs (module docstring)."""
    env = {k: source[k] for k in (*_KEEP, *_PROXY) if k in source}
    env.update({k: v for k, v in source.items() if k.startswith("RCLONE_")})
    env.setdefault("PATH", os.defpath)
    return env


def classify(code: int, stderr: str) -> str:
    """An rclone exit code (and its stderr, for the catch-all codes) -> RemoteError.kind."""
    if code in _KINDS:
        return _KINDS[code]
    if code in (1, 2) and _NETWORK.search(stderr):
        return "temporary"
    return "error"


def last_line(stderr: str) -> str:
    """rclone's last meaningful stderr line, without its timestamp and level prefix."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    # rclone prints a NOTICE when no config file exists; it is never the error
    lines = [ln for ln in lines if "Config file" not in ln or "not found" not in ln] or lines
    if not lines:
        return "no message"
    text = re.sub(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d (?:[A-Z]+\s*:\s*)?", "", lines[-1])
    return text[:500]


@dataclass(frozen=True)
class Result:
    code: int
    stdout: bytes
    stderr: str


class Rclone:
    """rclone for one remote: its --config, --bwlimit and the clean environment."""

    def __init__(
        self,
        remote: RemoteConfig,
        *,
        binary: str = BINARY,
        env: Mapping[str, str] | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.remote = remote
        self.binary = binary
        self.env = clean_env(os.environ if env is None else env)
        self.cancel = cancel  # set: the daemon is stopping; a running rclone is stopped

    def _argv(self, args: Sequence[str], transfer: bool) -> list[str]:
        argv = [self.binary, *args, *_FAST, "--ask-password=false"]
        if self.remote.rclone_config is not None:
            argv += ["--config", str(self.remote.rclone_config)]
        if transfer and self.remote.bwlimit:
            argv += ["--bwlimit", self.remote.bwlimit]
        return argv

    def run(
        self,
        args: Sequence[str],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transfer: bool = False,
        ok: Sequence[int] = (0,),
    ) -> Result:
        """Run `rclone args...`; RemoteError (with rclone's last stderr line) unless the exit
        code is in `ok`. A child past `timeout` is killed (its own process group) and waited."""
        argv = self._argv(args, transfer)
        what = f"rclone {args[0]} on remote {self.remote.name!r}"
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self.env,
                start_new_session=True,  # a Ctrl-C for zarchctl is handled by us, not by rclone
            )
        except FileNotFoundError:
            raise RemoteError(
                f"{what}: the rclone program was not found on PATH; install rclone "
                "(Debian/Ubuntu: apt install rclone; elsewhere https://rclone.org/install/)",
                "missing",
            ) from None
        except OSError as exc:
            raise RemoteError(f"{what}: cannot start rclone ({exc})", "missing") from None
        try:
            out, err = self._wait(proc, timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            raise RemoteError(
                f"{what}: no answer within {timeout:g} s (stopped)", "timeout"
            ) from None
        except Cancelled:
            _kill(proc)
            raise RemoteError(f"{what}: stopped (zarchd is stopping)", "cancelled") from None
        except BaseException:
            _kill(proc)  # KeyboardInterrupt or a cancelled thread: never leave rclone running
            raise
        stderr = err.decode("utf-8", "replace")
        if proc.returncode not in ok:
            kind = classify(proc.returncode, stderr)
            raise RemoteError(
                f"{what} failed (rclone exit {proc.returncode}, {kind}): {last_line(stderr)}",
                kind,
                proc.returncode,
            )
        return Result(proc.returncode, out, stderr)

    def _wait(self, proc: subprocess.Popen[bytes], timeout: float) -> tuple[bytes, bytes]:
        """communicate() in slices, so a stopping daemon need not wait for a long transfer."""
        end = time.monotonic() + timeout
        while True:
            if self.cancel is not None and self.cancel.is_set():
                raise Cancelled("stopping")
            left = end - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired(proc.args, timeout)
            try:
                return proc.communicate(timeout=min(left, CANCEL_POLL_S))
            except subprocess.TimeoutExpired:
                continue

    def version(self) -> str:
        first = self.run(["version"], timeout=30).stdout.decode("utf-8", "replace")
        return first.splitlines()[0] if first else "rclone"


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Stop the child by its own pid/process group (nothing else) and reap it."""
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired, ValueError, OSError):
        proc.communicate(timeout=10)


def local_path(path: Path) -> str:
    """A local file as rclone must see it: absolute, so a ':' in its name is never a remote."""
    return str(path.absolute())
