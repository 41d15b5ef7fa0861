"""Another user can neither own the socket directory nor pose as the daemon (issue 9, defect 8)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.e2e.harness import command
from zarchd.control.client import call
from zarchd.control.server import ControlServer
from zarchd.core.errors import UnsafeDirectory, UnsafePath

from .helpers import Handler
from .test_peer_credentials import NOBODY, _as_nobody, _become_nobody_unless_setpriv

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as nobody")

# A fake daemon another user runs on a socket it could swap in: it answers everything.
FAKE_DAEMON = textwrap.dedent("""
    import json, socket, sys
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sys.argv[1])
    srv.listen(8)
    print("listening", flush=True)
    while True:
        conn, _ = srv.accept()
        with conn:
            line = conn.makefile("rb").readline()
            if not line:  # a careful client hung up at once
                continue
            ident = json.loads(line)["id"]
            conn.sendall(json.dumps({"id": ident, "result": {
                "pong": True, "stopping": True, "message": "backup verified"}}).encode() + b"\\n")
""")


@needs_root
def test_a_socket_directory_of_another_user_is_refused(sock_dir: Path, handler: Handler) -> None:
    theirs = sock_dir / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, NOBODY, NOBODY)
    with pytest.raises(UnsafeDirectory) as info:
        ControlServer(theirs / "zarchd.sock", handler).start()
    assert f"uid {NOBODY}" in info.value.message and str(theirs) in info.value.message
    assert not (theirs / "zarchd.sock").exists()


def test_a_socket_directory_writable_by_others_is_refused(sock_dir: Path, handler: Handler) -> None:
    shared = sock_dir / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with pytest.raises(UnsafeDirectory) as info:
        ControlServer(shared / "zarchd.sock", handler).start()
    assert f"chmod go-w {shared}" in info.value.message
    assert not (shared / "zarchd.sock").exists()


@pytest.mark.e2e  # a real zarchd run / zarchctl process
@needs_root
def test_the_client_refuses_a_daemon_of_another_user(sock_dir: Path) -> None:
    os.chmod(sock_dir, 0o755)  # nobody may reach its own directory inside
    theirs = sock_dir / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, NOBODY, NOBODY)
    path = theirs / "zarchd.sock"
    fake = subprocess.Popen(
        [*_as_nobody(), sys.executable, "-c", FAKE_DAEMON, str(path)],
        preexec_fn=_become_nobody_unless_setpriv,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert fake.stdout is not None and fake.stdout.readline() == "listening\n"
        os.chmod(path, 0o666)  # the fake daemon lets everybody in
        with pytest.raises(UnsafePath) as info:
            call(path, "backup")
        assert f"uid {NOBODY}" in info.value.message and "refusing to trust" in info.value.message
        res = subprocess.run(
            [*command("zarchctl"), "stop", "--socket", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert res.returncode == 1 and "refusing to trust its answers" in res.stderr, res
        assert "stopping" not in res.stdout
    finally:
        fake.kill()
        fake.wait()
