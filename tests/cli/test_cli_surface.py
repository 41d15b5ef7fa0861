"""The command line's surface: global flags anywhere, -h, help sections, the start-up fast path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zarchd.app.commands import COMMANDS
from zarchd.cli import ctl_entry, globalopts
from zarchd.cli.zarchctl import app


def test_split_takes_the_flags_out_wherever_they_stand_up_to_a_double_dash() -> None:
    flags, rest = globalopts.split(["-q", "status", "--json", "--config", "c", "-v", "--", "-q"])
    assert flags == globalopts.GlobalFlags(json=True, quiet=True, verbose=True)
    assert rest == ["status", "--config", "c", "--", "-q"]
    assert not flags.show_progress
    assert globalopts.split(["--no-progress"])[0].show_progress is False
    assert globalopts.GlobalFlags().show_progress is True


@pytest.mark.parametrize("where", ["before", "after"])
def test_json_and_quiet_before_or_after_the_command(
    runner: CliRunner, config: Path, where: str
) -> None:
    cmd = ["status", "--local", "--config", str(config)]
    res = runner.invoke(app, ["--json", *cmd] if where == "before" else [*cmd, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["registry"]["integrity"] == "ok"
    res = runner.invoke(app, ["-q", *cmd] if where == "before" else [*cmd, "--quiet"])
    assert res.exit_code == 0, res.output
    assert res.stdout == ""


def test_no_progress_silences_the_progress_lines_only(runner: CliRunner, config: Path) -> None:
    res = runner.invoke(app, ["backup", "--local", "--config", str(config)])
    assert res.exit_code == 0, res.output
    assert res.stderr, "a backup prints plain progress lines when piped"
    res = runner.invoke(app, ["--no-progress", "backup", "--local", "--config", str(config)])
    assert res.exit_code == 0, res.output
    assert res.stderr == "" and "written" in res.stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_h_examples_and_exit_status(runner: CliRunner, name: str) -> None:
    res = runner.invoke(app, [*name.split(), "-h"])
    assert res.exit_code == 0, res.output
    assert "<bool>" not in res.stdout
    for section in ("EXAMPLES:", "EXIT STATUS:", "GLOBAL OPTIONS", "--no-progress", "-q, --quiet"):
        assert section in res.stdout, (name, section)
    assert f"zarchctl {name}" in res.stdout.split("EXAMPLES:")[1]


def test_top_level_help_lists_the_global_flags(runner: CliRunner) -> None:
    res = runner.invoke(app, ["-h"])
    assert res.exit_code == 0
    for flag in ("--json", "-q, --quiet", "-v, --verbose", "--no-progress"):
        assert flag in res.stdout


def test_the_fast_path_parses_only_what_typer_would_parse_the_same() -> None:
    assert ctl_entry.parse_fast(["status", "--config=c.toml", "--json", "--local"]) == (
        "status",
        {},
        {"json_out": True, "config_path": Path("c.toml"), "socket": None, "local": True},
    )
    assert ctl_entry.parse_fast(["prune", "--local", "--dry-run"]) == (
        "prune",
        {"dry_run": True},
        {"json_out": False, "config_path": None, "socket": None, "local": True},
    )
    assert ctl_entry.parse_fast(["prune"]) == (
        "prune",
        {"dry_run": False},
        {"json_out": False, "config_path": None, "socket": None, "local": False},
    )
    assert ctl_entry.parse_fast(["backups", "--socket=s"]) is not None
    assert ctl_entry.parse_fast(["ping", "--socket", "s"]) is not None
    for args in (
        ["ping", "--local"],  # ping has no --local: Typer says so
        ["status", "-h"],
        ["status", "--config"],
        ["status", "--config="],
        ["status", "extra"],
        ["status", "--dry-run"],  # prune's flag only
        ["backups", "--dry-run"],
        ["prune", "--dry-run=yes"],
        ["prune", "-n"],
        ["backup"],
        [],
    ):
        assert ctl_entry.parse_fast(args) is None, args


def test_the_fast_path_answers_as_typer_does(
    runner: CliRunner, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--json", "status", "--local", "--config", str(config)]
    with pytest.raises(SystemExit) as done:
        ctl_entry.main([*argv, "--no-such-flag"])  # not fast: Typer refuses it, exit 2
    assert done.value.code == 2
    capsys.readouterr()
    ctl_entry.main(argv)
    fast = json.loads(capsys.readouterr().out)
    slow = json.loads(runner.invoke(app, argv).stdout)
    assert fast["registry"] == slow["registry"] and fast["daemon"]["note"] == slow["daemon"]["note"]


def test_verbose_says_what_the_run_acts_on(
    runner: CliRunner, config: Path, caplog: pytest.LogCaptureFixture
) -> None:
    res = runner.invoke(app, ["status", "--local", "--config", str(config), "-v"])
    assert res.exit_code == 0, res.output
    said = [r.getMessage() for r in caplog.records if r.name == "zarchctl"]
    assert said and said[0].startswith(f"status: config {config}") and "--local" in said[0]
    caplog.clear()
    res = runner.invoke(app, ["status", "--local", "--config", str(config)])
    assert not [r for r in caplog.records if r.name == "zarchctl"]


@pytest.mark.parametrize(
    "args",
    [
        ["config", "validate", "-h"],
        ["config", "init", "-h"],
    ],
)
def test_config_commands_have_h_examples_and_exit_status(
    runner: CliRunner, args: list[str]
) -> None:
    res = runner.invoke(app, args)
    assert res.exit_code == 0 and "EXAMPLES:" in res.stdout and "EXIT STATUS:" in res.stdout


@pytest.mark.parametrize("args", [["run", "-h"], ["service", "install", "-h"]])
def test_zarchd_commands_have_h_examples_and_exit_status(args: list[str]) -> None:
    from zarchd.cli import zarchd

    res = CliRunner().invoke(zarchd.app, args)
    assert res.exit_code == 0, res.output
    assert "<bool>" not in res.stdout
    assert "EXAMPLES:" in res.stdout and "EXIT STATUS:" in res.stdout


@pytest.mark.parametrize("cmd", [["backups"], ["prune", "--dry-run"]])
def test_the_fast_listings_answer_as_typer_does(
    runner: CliRunner, config: Path, capsys: pytest.CaptureFixture[str], cmd: list[str]
) -> None:
    assert runner.invoke(app, ["backup", "--local", "--config", str(config)]).exit_code == 0
    argv = ["--json", *cmd, "--local", "--config", str(config)]
    assert ctl_entry.parse_fast(argv[1:]) is not None  # really the fast path
    capsys.readouterr()
    ctl_entry.main(argv)  # returns on success, as for status
    fast = json.loads(capsys.readouterr().out)
    res = runner.invoke(app, argv)
    assert res.exit_code == 0, res.output
    assert fast == json.loads(res.stdout)
    if cmd[0] == "prune":  # a dry run: the backup is still there to be listed
        assert fast["dry_run"] is True and fast["decisions"]
    else:
        assert len(fast["backups"]) == 1
