"""`zarchctl health`: exit 0 healthy, 1 degraded or cannot connect, 3 not running."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

from typer.testing import CliRunner

from tests.backups.conftest import corrupt, make_registry
from tests.inprocess import QUIET, DaemonThread, wait_for, write_config
from zarchd.cli.zarchctl import app
from zarchd.core.config import load_config


def _health(runner: CliRunner, config: Path, *args: str) -> object:
    return runner.invoke(app, ["health", "--config", str(config), *args])


def test_healthy_and_degraded_through_a_daemon(runner: CliRunner, root: Path) -> None:
    registry = make_registry(root / "reg" / "registry.db", rows=3000)
    config = write_config(root, registry, QUIET, socket=root / "ctl.sock")
    with DaemonThread(load_config(config), config_path=config) as d:
        wait_for(lambda: d.call("status")["backups"]["latest"], what="the catch-up backup")
        res = _health(runner, config)
        assert res.exit_code == 0 and res.stdout.strip() == "healthy", res.output
        res = _health(runner, config, "--json")
        assert res.exit_code == 0 and json.loads(res.stdout) == {"healthy": True, "reasons": []}
        corrupt(registry)  # under the running daemon
        res = _health(runner, config)
        assert res.exit_code == 1, res.output
        assert res.stdout.startswith("degraded:") and "registry damaged" in res.stdout
        report = json.loads(_health(runner, config, "--json").stdout)
        assert report["healthy"] is False and report["reasons"][0].startswith("registry damaged")


def test_health_works_locally(runner: CliRunner, config: Path) -> None:
    assert runner.invoke(app, ["backup", "--local", "--config", str(config)]).exit_code == 0
    res = _health(runner, config, "--local")
    assert res.exit_code == 0 and "healthy" in res.stdout, res.output


def test_not_running_is_exit_3(runner: CliRunner, config: Path) -> None:
    res = _health(runner, config)
    assert res.exit_code == 3 and "not running" in res.output


def test_a_refused_connection_is_not_running(runner: CliRunner, config: Path, root: Path) -> None:
    stale = root / "stale.sock"  # a socket file nobody listens on: a daemon that crashed
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(stale))
    sock.close()
    res = _health(runner, config, "--socket", str(stale))
    assert res.exit_code == 3 and "not running" in res.output


def test_a_wrong_socket_cannot_connect(runner: CliRunner, config: Path, root: Path) -> None:
    wrong = root / "not-a-socket"
    shutil.copyfile(config, wrong)
    res = _health(runner, config, "--socket", str(wrong))
    assert res.exit_code == 1, res.output
    assert "cannot connect" in res.output and "not a socket" in res.output
    assert "not running" not in res.output
