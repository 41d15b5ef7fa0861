"""zarchctl in this process: --local, against a daemon in a thread, and every exit code."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.inprocess import DaemonThread
from zarchd.cli.zarchctl import app
from zarchd.core.config import load_config


def _ctl(runner: CliRunner, config: Path, *args: str, input: str | None = None) -> object:
    return runner.invoke(app, [args[0], "--config", str(config), *args[1:]], input=input)


def test_local_commands_and_their_output(runner: CliRunner, config: Path) -> None:
    res = _ctl(runner, config, "backup", "--local")
    assert res.exit_code == 0, res.output
    assert "written" in res.stdout and "verified" in res.stdout
    res = _ctl(runner, config, "backups", "--local", "--json")
    name = json.loads(res.stdout)["backups"][0]["name"]
    assert res.exit_code == 0
    for args, words in (
        (("backups", "--local"), name),
        (("prune", "--dry-run", "--local"), "dry run"),
        (("prune", "--local"), name),
        (("verify", "--local"), f"ok  {name}"),
        (("check", "--local"), "integrity ok"),
        (("migrate", "--dry-run", "--local"), "nothing pending"),
        (("migrate", "--local"), "nothing to apply"),
        (("repair", "--dry-run", "--local"), "nothing to repair"),
        (("status", "--local"), "daemon     not running"),
        (("restore", name, "--yes", "--local"), f"restored {name}"),
    ):
        res = _ctl(runner, config, *args)
        assert res.exit_code == 0, (args, res.output)
        assert words in res.stdout, (args, res.stdout)


def test_status_without_a_daemon_reads_the_registry_here(runner: CliRunner, config: Path) -> None:
    res = _ctl(runner, config, "status", "--json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["daemon"]["running"] is False and "no daemon answers" in report["daemon"]["note"]
    assert report["registry"]["integrity"] == "ok"


def test_exit_codes(runner: CliRunner, config: Path, root: Path) -> None:
    res = _ctl(runner, config, "ping")
    assert res.exit_code == 3 and "zarchd is not running" in res.stderr
    res = _ctl(runner, config, "backup", "--json")
    assert res.exit_code == 3 and json.loads(res.stdout)["error"]["code"]
    res = _ctl(runner, config, "verify", "registry-19990101-000000.bak", "--local")
    assert res.exit_code == 1 and res.stderr.startswith("zarchctl: ")
    res = _ctl(runner, config, "recover", "--local")  # no terminal and no --yes
    assert res.exit_code == 2 and "Refusing without --yes" in res.stderr
    res = _ctl(runner, config, "restore", "x.bak", "--local")
    assert res.exit_code == 2
    bad = root / "bad.toml"
    bad.write_text("[backup]\ninterval = 'often'\n")
    res = _ctl(runner, bad, "status")
    assert res.exit_code == 2 and "backup.interval" in res.stderr
    res = _ctl(runner, config, "status", "--socket", "/tmp/" + "d" * 120 + "/z.sock")
    assert res.exit_code == 2 and "--socket" in res.stderr
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.stdout.startswith("zarchctl ")


def test_a_damaged_backup_fails_verify_with_exit_1(runner: CliRunner, config: Path) -> None:
    assert _ctl(runner, config, "backup", "--local").exit_code == 0
    backups = json.loads(_ctl(runner, config, "backups", "--local", "--json").stdout)
    path = Path(backups["backups"][0]["path"])
    data = bytearray(path.read_bytes())
    data[5000:5010] = b"\xff" * 10
    path.write_bytes(bytes(data))
    res = _ctl(runner, config, "verify", "--local")
    assert res.exit_code == 1 and "1 bad backup(s)" in res.stdout


def test_commands_through_a_daemon_in_a_thread(runner: CliRunner, config: Path) -> None:
    with DaemonThread(load_config(config), config_path=config):
        for args, words in (
            (("ping",), "zarchd is running"),
            (("status",), "daemon     running"),
            (("backup",), "written"),
            (("pause",), "paused"),
            (("status",), "daemon     paused"),
            (("resume",), "resumed"),
            (("reload",), "config reloaded"),
            (("check",), "integrity ok"),
            (("verify",), "ok "),
        ):
            res = _ctl(runner, config, *args)
            assert res.exit_code == 0, (args, res.output)
            assert words in res.stdout, (args, res.stdout)
        res = _ctl(runner, config, "pause", "--local")
        assert res.exit_code == 2  # daemon-only: no --local form
        res = _ctl(runner, config, "stop")
        assert res.exit_code == 0 and "stopping" in res.stdout


def test_log_reads_the_history_locally(runner: CliRunner, config: Path) -> None:
    assert _ctl(runner, config, "log", "--local").stdout.strip() == "no jobs recorded yet"
    assert _ctl(runner, config, "backup", "--local").exit_code == 0
    assert _ctl(runner, config, "check", "--local").exit_code == 0
    res = _ctl(runner, config, "log", "--local", "-n", "1")
    assert res.exit_code == 0 and res.stdout.count("\n") == 1
    assert "ok" in res.stdout and "check (manual) done: integrity check ok" in res.stdout
    res = _ctl(runner, config, "log", "--local", "--json")
    assert [e["job"] for e in json.loads(res.stdout)["entries"]] == ["backup", "check"]
    assert _ctl(runner, config, "log", "--local", "-n", "0").exit_code == 2
