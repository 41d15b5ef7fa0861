"""zarchctl's view: each failure to reach or hear the daemon is a plain sentence, an exit code."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from zarchd.control.client import call, error_from, ping
from zarchd.control.server import ControlServer
from zarchd.core.errors import ConfigError, DaemonNotRunning, ProtocolError, ZarchError

REPO = Path(__file__).resolve().parents[2]


def _expected_not_running(path: Path) -> str:
    return (
        f"zarchd is not running (no socket at {path}). "
        "Start it with `systemctl --user start zarchd` "
        "or `zarchd run`, or run this command with --local."
    )


@pytest.mark.parametrize("where", ["missing file", "missing dir", "stale socket"])
def test_no_daemon_is_exit_3_with_how_to_start_it(sock_dir: Path, where: str) -> None:
    path = sock_dir / "run" / "zarchd.sock"
    if where == "missing file":
        path.parent.mkdir()
    elif where == "stale socket":
        path.parent.mkdir()
        dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        dead.bind(str(path))
        dead.close()
    with pytest.raises(DaemonNotRunning) as info:
        call(path, "status")
    assert info.value.exit_code == 3
    assert str(info.value) == _expected_not_running(path)
    assert info.value.__suppress_context__
    assert ping(path) is False


def test_ping_true_against_a_live_server(server: ControlServer) -> None:
    assert ping(server.address) is True


def test_client_timeout_is_a_clear_error(server: ControlServer) -> None:
    with pytest.raises(ZarchError, match=r"no answer from zarchd within 0\.2s for `migrate`"):
        call(server.address, "migrate", timeout=0.2)


SERVER_SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from zarchd.control.server import ControlServer

    def handler(method, params, progress):
        if method == "backup":
            progress({"phase": "copying"})
            time.sleep(60)
        return {"pong": True}

    ControlServer(Path(sys.argv[1]), handler).start()
    print("ready", flush=True)
    time.sleep(120)
""")


def test_daemon_killed_mid_request_is_a_clear_error(sock_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER_SCRIPT, str(sock_path)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        assert call(sock_path, "ping", timeout=5) == {"pong": True}

        def kill_on_progress(event: dict) -> None:
            assert event == {"phase": "copying"}
            proc.kill()  # the daemon dies while `backup` runs

        with pytest.raises(ZarchError) as info:
            call(sock_path, "backup", on_progress=kill_on_progress, timeout=10)
    finally:
        proc.kill()
        proc.wait()
    assert type(info.value) is ZarchError and info.value.exit_code == 1
    assert info.value.message.startswith(
        "the daemon closed the connection before answering `backup`"
    )
    assert "journalctl --user -u zarchd" in info.value.message
    with pytest.raises(DaemonNotRunning):  # the socket it left behind is stale now
        call(sock_path, "ping")


def test_error_codes_map_back_to_exception_classes() -> None:
    bad_config = error_from(
        {"code": "bad_config", "message": "bad configuration (1 problem(s)):\n  - x: y"}
    )
    assert (
        isinstance(bad_config, ConfigError)
        and bad_config.exit_code == 2
        and bad_config.problems == ["x: y"]
    )
    for code in ("bad_request", "unknown_method", "bad_params"):
        err = error_from({"code": code, "message": "m"})
        assert isinstance(err, ProtocolError) and err.code == code
    odd = error_from({"code": "internal", "message": "internal error: X"})
    assert type(odd) is ZarchError and odd.code == "internal" and odd.message == "internal error: X"
    assert error_from("garbage").code == "failed"
