"""A command never acts silently on the daemon's registry when the user named another one:
by --config, ZARCH_CONFIG or ZARCH_REGISTRY. And status says what is true about the daemon."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import FIXTURE_0005
from tests.inprocess import QUIET, DaemonThread, write_config
from zarchd.cli.zarchctl import app
from zarchd.core.config import load_config


def _other(root: Path) -> tuple[Path, Path]:
    """A second registry and a config naming it, with the running daemon's socket."""
    other = root / "other"
    other.mkdir()
    registry = other / "registry.db"
    shutil.copyfile(FIXTURE_0005, registry)
    return registry, write_config(other, registry, QUIET, socket=root / "ctl.sock")


@pytest.mark.parametrize("how", ["--config", "ZARCH_CONFIG", "ZARCH_REGISTRY"])
def test_a_named_registry_that_is_not_the_daemons_is_refused(
    runner: CliRunner, config: Path, root: Path, how: str
) -> None:
    registry, other_config = _other(root)
    if how == "--config":
        args, env = ["--config", str(other_config)], {}
    elif how == "ZARCH_CONFIG":
        args, env = [], {"ZARCH_CONFIG": str(other_config)}
    else:  # the daemon's own config, the registry overridden from the environment
        args, env = ["--config", str(config)], {"ZARCH_REGISTRY": str(registry)}
    with DaemonThread(load_config(config), config_path=config):
        res = runner.invoke(app, ["backup", *args], env=env)
        assert res.exit_code == 2, res.output
        daemons = str(load_config(config).registry_path)
        assert daemons in res.stderr and str(registry) in res.stderr
        assert "--local" in res.stderr and "--socket" in res.stderr
        assert "nothing was done" in res.stderr
        res = runner.invoke(app, ["status", *args], env=env)
        assert res.exit_code == 2  # status would show the daemon's registry as if it were ours
        res = runner.invoke(app, ["backup", "--local", *args], env=env)
        assert res.exit_code == 0, res.output  # what the message advises works


def test_naming_the_daemons_own_config_is_not_refused(runner: CliRunner, config: Path) -> None:
    with DaemonThread(load_config(config), config_path=config):
        res = runner.invoke(app, ["backup", "--config", str(config)])
        assert res.exit_code == 0, res.output


def test_status_says_what_is_true_of_the_daemon(
    runner: CliRunner, config: Path, root: Path
) -> None:
    with DaemonThread(load_config(config), config_path=config):
        res = runner.invoke(app, ["status", "--local", "--config", str(config)])
        assert res.exit_code == 0, res.output
        assert "not running" not in res.stdout
        assert "not asked (--local); zarchd (pid" in res.stdout
        wrong = root / "wrong.sock"
        res = runner.invoke(app, ["status", "--config", str(config), "--socket", str(wrong)])
        assert res.exit_code == 0, res.output
        assert f"no daemon answers at {wrong}" in res.stdout
