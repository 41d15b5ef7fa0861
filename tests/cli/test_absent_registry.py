"""A registry path where no registry is, nor ever was (a typo), is created only by `migrate`
and by `zarchd run` when allowed; everything else says so, exit 1, and creates nothing
(issue 14, item 7)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.inprocess import QUIET, DaemonThread, write_config
from zarchd.cli.zarchctl import app
from zarchd.core.config import load_config
from zarchd.core.errors import RegistryError


def _tree(*roots: Path) -> set[str]:
    found = set()
    for top in roots:
        for here, dirs, files in os.walk(top):
            found.update(os.path.join(here, n) for n in dirs + files)
    return found


@pytest.fixture(params=["missing dir", "missing file"])
def typo(request: pytest.FixtureRequest, root: Path) -> Path:
    """A config whose registry path names nothing: in a directory that is not there, or a
    misspelt file in one that is."""
    if request.param == "missing dir":
        registry = root / "7zarch-gp" / "registry.db"
    else:
        (root / "reg").mkdir()
        registry = root / "reg" / "regsitry.db"
    return write_config(root, registry, QUIET, socket=root / "ctl.sock")


@pytest.mark.parametrize(
    "args",
    [
        ("backup", "--local"),
        ("verify", "--local"),
        ("verify",),  # no daemon: run here
        ("backups", "--local"),
        ("prune", "--local"),
        ("prune", "--dry-run"),
        ("check", "--local"),
        ("repair", "--local"),
        ("repair", "--dry-run", "--local"),
        ("rollback", "--to", "0001_initial", "--local"),
        ("restore", "latest", "--yes", "--local"),
        ("restore", "latest", "--to", "/nonexistent-dir/out.db"),
        ("recover", "--yes", "--local"),
    ],
    ids=lambda a: " ".join(a),
)
def test_nothing_is_created_for_a_mistyped_path(
    runner: CliRunner, typo: Path, root: Path, args: tuple[str, ...]
) -> None:
    state = Path(os.environ["XDG_STATE_HOME"])
    before = _tree(root, state)
    res = runner.invoke(app, [args[0], "--config", str(typo), *args[1:]])
    assert res.exit_code == 1, res.output
    assert "does not exist" in res.stderr and "mistyped" in res.stderr
    assert _tree(root, state) == before


def test_zarchd_run_refuses_a_mistyped_path(typo: Path, root: Path) -> None:
    state = Path(os.environ["XDG_STATE_HOME"])
    before = _tree(root, state)
    daemon = DaemonThread(load_config(typo))
    try:
        with pytest.raises(AssertionError, match="ended before it was ready"):
            daemon.start()
    finally:
        if daemon.thread.is_alive():  # it started after all (the old code did): stop it
            daemon.stop()
    assert isinstance(daemon.error, RegistryError), daemon.error
    assert "registry.create = true" in daemon.error.message
    assert _tree(root, state) == before


def test_migrate_and_an_allowed_zarchd_run_create_it(runner: CliRunner, root: Path) -> None:
    registry = root / "new" / "registry.db"
    config = write_config(root, registry, QUIET, socket=root / "ctl.sock")
    res = runner.invoke(app, ["migrate", "--config", str(config), "--local"])
    assert res.exit_code == 0 and registry.is_file(), res.output
    other = root / "other" / "registry.db"
    config = write_config(root, other, QUIET, socket=root / "ctl.sock")
    line = f'path = "{other}"\n'
    config.write_text(config.read_text().replace(line, line + "create = true\n"))
    with DaemonThread(load_config(config), config_path=config):
        pass
    assert other.is_file()  # started with the full schema, as on a first run


@pytest.mark.parametrize(
    ("args", "code"),
    [(("status", "--local"), 0), (("health", "--local"), 1), (("log", "--local"), 0)],
    ids=lambda a: " ".join(a) if isinstance(a, tuple) else str(a),
)
def test_status_health_and_log_report_it_and_create_nothing(
    runner: CliRunner, typo: Path, root: Path, args: tuple[str, ...], code: int
) -> None:
    state = Path(os.environ["XDG_STATE_HOME"])
    before = _tree(root, state)
    res = runner.invoke(app, [args[0], "--config", str(typo), *args[1:]])
    assert res.exit_code == code, res.output
    assert "mistyped" not in res.stderr
    assert _tree(root, state) == before
