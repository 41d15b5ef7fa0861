"""Real storage servers on 127.0.0.1 for the remote tests: `rclone serve sftp`, `rclone serve
webdav` (a backend without server-side hashes) and a moto S3 endpoint.

Each server is reached as an rclone remote defined in a private rclone.conf (`LoopbackRemote.conf`)
and equally through RCLONE_CONFIG_<NAME>_* variables (`LoopbackRemote.env`), so a test can use
either way a user would. rclone servers are child processes stopped by their own pid.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

START_DEADLINE = 20.0
_LISTENING = re.compile(r"(?:listening on|started on http://)\s*(127\.0\.0\.1:\d+)")


@dataclass
class LoopbackRemote:
    """One server as an rclone remote: `name:` with `options` (rclone.conf keys)."""

    name: str
    kind: str  # sftp | webdav | s3
    root: Path | None  # the server's directory on disk (None: S3 keeps objects in memory)
    options: dict[str, str]
    bucket: str = ""  # S3: the bucket to put under the target
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return f"{self.name}:{self.bucket}" if self.bucket else f"{self.name}:"

    @property
    def env(self) -> dict[str, str]:
        """The same remote as RCLONE_CONFIG_<NAME>_<KEY> variables (no config file needed)."""
        up = self.name.upper()
        return {f"RCLONE_CONFIG_{up}_{k.upper()}": v for k, v in self.options.items()}

    def conf_section(self) -> str:
        body = "".join(f"{k} = {v}\n" for k, v in self.options.items())
        return f"[{self.name}]\n{body}\n"


def rclone_available() -> bool:
    return shutil.which("rclone") is not None


def obscure(secret: str) -> str:
    out = subprocess.run(
        ["rclone", "obscure", secret], capture_output=True, text=True, check=True, timeout=30
    )
    return out.stdout.strip()


class RcloneServer:
    """`rclone serve <proto> root` on 127.0.0.1, a free port chosen by the kernel."""

    def __init__(self, proto: str, root: Path, home: Path, args: list[str]) -> None:
        self.proto = proto
        env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(home)}
        self.proc = subprocess.Popen(
            ["rclone", "serve", proto, str(root), "--addr", "127.0.0.1:0", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        self.address = ""
        self.log: list[str] = []
        self._ready = threading.Event()
        threading.Thread(target=self._drain, daemon=True).start()
        if not self._ready.wait(START_DEADLINE) or not self.address:
            self.stop()
            raise RuntimeError(f"rclone serve {proto} did not start: {self.log[-5:]}")

    def _drain(self) -> None:
        # keeps reading for the server's whole life: a full pipe would stall it
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            self.log.append(line)
            m = _LISTENING.search(line)
            if m and not self.address:
                self.address = m.group(1)
                self._ready.set()
        self._ready.set()  # exited: wake the waiter, which then sees no address

    @property
    def port(self) -> str:
        return self.address.rsplit(":", 1)[1]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


@contextmanager
def sftp_server(base: Path, name: str = "zsftp") -> Iterator[tuple[LoopbackRemote, RcloneServer]]:
    root, home = base / "sftp-root", base / "sftp-home"
    root.mkdir(parents=True)
    home.mkdir()
    # No directory cache: tests change files behind the server's back (corruption) and the
    # local backend would answer from the hashes it cached for the old object.
    args = ["--user", "zarchd", "--pass", "secret", "--dir-cache-time", "0s"]
    if shutil.which("ssh-keygen"):  # an ed25519 host key is instant; rclone's own is RSA-2048
        key = home / "hostkey"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True, timeout=30
        )
        args += ["--key", str(key)]
    server = RcloneServer("sftp", root, home, args)
    try:
        opts = {
            "type": "sftp",
            "host": "127.0.0.1",
            "port": server.port,
            "user": "zarchd",
            "pass": obscure("secret"),
            "shell_type": "unix",
            "md5sum_command": "md5sum",
            "sha1sum_command": "sha1sum",
        }
        yield LoopbackRemote(name, "sftp", root, opts), server
    finally:
        server.stop()


@contextmanager
def webdav_server(base: Path, name: str = "zdav") -> Iterator[tuple[LoopbackRemote, RcloneServer]]:
    root, home = base / "dav-root", base / "dav-home"
    root.mkdir(parents=True)
    home.mkdir()
    server = RcloneServer("webdav", root, home, ["--dir-cache-time", "0s"])  # see sftp_server
    try:
        opts = {"type": "webdav", "url": f"http://{server.address}/", "vendor": "other"}
        yield LoopbackRemote(name, "webdav", root, opts), server
    finally:
        server.stop()


@contextmanager
def s3_server(name: str = "zs3", bucket: str = "zarchd-test") -> Iterator[LoopbackRemote]:
    """moto's S3 in a thread of this process (ThreadedMotoServer), a bucket made through rclone."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        opts = {
            "type": "s3",
            "provider": "Other",
            "endpoint": f"http://{host}:{port}",
            "access_key_id": "testing",
            "secret_access_key": "testing",
            "region": "us-east-1",
            "force_path_style": "true",
        }
        remote = LoopbackRemote(name, "s3", None, opts, bucket=bucket)
        env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": "/nonexistent", **remote.env}
        subprocess.run(
            ["rclone", "mkdir", f"{name}:{bucket}", "--config", "/dev/null"],
            env=env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        yield remote
    finally:
        server.stop()


def write_conf(path: Path, remotes: list[LoopbackRemote]) -> Path:
    path.write_text("".join(r.conf_section() for r in remotes))
    path.chmod(0o600)
    return path


def wait_until(predicate: object, deadline: float = 10.0) -> bool:
    """Poll `predicate()` until true or `deadline` seconds pass (for server-side effects)."""
    assert callable(predicate)
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())
