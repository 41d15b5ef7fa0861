"""Read-only commands work without a daemon; the rest still exit 3 (issue 14, item 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zarchd.cli.zarchctl import app


def _ctl(runner: CliRunner, config: Path, *args: str) -> object:
    return runner.invoke(app, [args[0], "--config", str(config), *args[1:]])


def test_read_only_commands_run_here_when_no_daemon_answers(
    runner: CliRunner, config: Path
) -> None:
    res = _ctl(runner, config, "backup", "--local")
    assert res.exit_code == 0, res.output
    for args, words in (
        (("backups",), "registry-"),
        (("verify",), "ok "),
        (("check",), "integrity ok"),
        (("prune", "--dry-run"), "dry run"),
        (("migrate", "--dry-run"), "nothing pending"),
        (("log",), "backup"),
        (("status",), "daemon     not running"),
    ):
        res = _ctl(runner, config, *args)
        assert res.exit_code == 0, (args, res.output)
        assert words in res.stdout, (args, res.stdout)
        if args[0] != "status":
            assert "no daemon answers" in res.stderr, (args, res.stderr)
    res = _ctl(runner, config, "backups", "--json")
    assert json.loads(res.stdout)["backups"]  # stdout stays pure JSON; the note is on stderr


@pytest.mark.parametrize(
    "args", [("backup",), ("prune",), ("migrate",), ("rollback", "--to", "0001_initial")]
)
def test_commands_that_write_still_need_the_daemon(
    runner: CliRunner, config: Path, args: tuple[str, ...]
) -> None:
    res = _ctl(runner, config, *args)
    assert res.exit_code == 3, res.output
    assert "run this command with --local" in res.stderr


@pytest.mark.parametrize("command", ["ping", "pause", "resume", "reload", "stop"])
def test_not_running_suggests_local_only_where_it_exists(
    runner: CliRunner, config: Path, command: str
) -> None:
    res = _ctl(runner, config, command)
    assert res.exit_code == 3 and "zarchd is not running" in res.stderr
    assert "--local" not in res.stderr
