"""`zarchctl config validate|show|init` in this process."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zarchd.cli.zarchctl import app


def test_validate_lists_every_problem_at_once_and_exits_2(runner: CliRunner, root: Path) -> None:
    bad = root / "bad.toml"
    bad.write_text('[backup]\ninterval = "soon"\n[log]\nlevel = "loud"\ncolour = 1\n')
    res = runner.invoke(app, ["config", "validate", "--config", str(bad)])
    assert res.exit_code == 2
    for key in ("backup.interval", "log.level", "log.colour"):
        assert key in res.stderr, key
    res = runner.invoke(app, ["--json", "config", "validate", "--config", str(bad)])
    assert res.exit_code == 2 and len(json.loads(res.stdout)["problems"]) == 3


def test_init_writes_a_config_that_validates_and_never_overwrites(
    runner: CliRunner, root: Path
) -> None:
    path = root / "new" / "zarchd.toml"
    res = runner.invoke(app, ["config", "init", "--config", str(path)])
    assert res.exit_code == 0, res.output
    assert os.stat(path).st_mode & 0o777 == 0o600
    written = path.read_bytes()
    assert b"keep_yearly = 2" in written and b"# " in written
    res = runner.invoke(app, ["config", "validate", "--config", str(path)])
    assert res.exit_code == 0 and "ok:" in res.stdout
    res = runner.invoke(app, ["config", "init", "--config", str(path)])
    assert res.exit_code == 1 and "exists already" in res.stderr
    assert path.read_bytes() == written


def test_init_never_writes_through_a_planted_symlink(runner: CliRunner, root: Path) -> None:
    target = root / "elsewhere"
    link = root / "zarchd.toml"
    link.symlink_to(target)
    res = runner.invoke(app, ["config", "init", "--config", str(link)])
    assert res.exit_code == 1
    assert not target.exists()


def test_show_fills_defaults_and_says_where_each_value_came_from(
    runner: CliRunner, config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZARCH_LOG_LEVEL", "debug")
    res = runner.invoke(app, ["config", "show", "--config", str(config), "--json"])
    assert res.exit_code == 0, res.output
    shown = json.loads(res.stdout)
    assert shown["log"]["level"] == {"value": "debug", "source": "env ZARCH_LOG_LEVEL"}
    assert shown["registry"]["path"]["source"] == "file"
    assert shown["retention"]["keep_last"] == {"value": 10, "source": "default"}
    res = runner.invoke(app, ["config", "show", "--config", str(config)])
    assert 'level = "debug"' in res.stdout and "# env ZARCH_LOG_LEVEL" in res.stdout
