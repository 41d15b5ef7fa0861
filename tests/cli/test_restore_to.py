"""restore latest|NAME --to PATH and --before TIME (issue 14, item 3), through zarchctl."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import tamper
from zarchd.cli.zarchctl import app
from zarchd.core.config import load_config


def _ctl(runner: CliRunner, config: Path, *args: str) -> object:
    return runner.invoke(app, [args[0], "--config", str(config), *args[1:]])


def _rot(bak: Path) -> None:
    """Bit rot near the end of a backup (backups are read-only: made writable first)."""
    os.chmod(bak, 0o600)
    tamper(bak, at=bak.stat().st_size - 100)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def taken(runner: CliRunner, config: Path) -> list[str]:
    """Two backups; the registry changes between them."""
    registry = load_config(config).registry_path
    names = []
    for row in ("first", "second"):
        with sqlite3.connect(registry) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS probe (v TEXT)")
            conn.execute("INSERT INTO probe VALUES (?)", (row,))
        conn.close()
        res = _ctl(runner, config, "backup", "--local", "--json")
        assert res.exit_code == 0, res.output
        names.append(json.loads(res.stdout)["backup"]["name"])
    return names


def test_latest_to_a_path_writes_a_checked_copy_and_leaves_the_registry_alone(
    runner: CliRunner, config: Path, root: Path, taken: list[str]
) -> None:
    registry = load_config(config).registry_path
    before = (_digest(registry), os.stat(registry).st_mtime_ns)
    out = root / "look" / "copy.db"
    out.parent.mkdir()
    res = _ctl(runner, config, "restore", "latest", "--to", str(out))  # no daemon, no --yes
    assert res.exit_code == 0, res.output
    assert f"wrote a copy of {taken[-1]} to {out}" in res.stdout
    assert "the registry was not touched" in res.stdout
    rows = [r[0] for r in sqlite3.connect(out).execute("SELECT v FROM probe")]
    assert rows == ["first", "second"] and (out.stat().st_mode & 0o777) == 0o600
    assert (_digest(registry), os.stat(registry).st_mtime_ns) == before
    listed = json.loads(_ctl(runner, config, "backups", "--local", "--json").stdout)["backups"]
    assert [b["name"] for b in listed] == taken  # no safety backup: nothing was replaced
    assert sorted(p.name for p in out.parent.iterdir()) == ["copy.db"]  # no temp left
    # a directory: the copy goes in under the backup's name
    res = _ctl(runner, config, "restore", taken[0], "--to", str(out.parent), "--json")
    assert res.exit_code == 0, res.output
    first = out.parent / taken[0]
    assert json.loads(res.stdout)["to"] == str(first)
    assert [r[0] for r in sqlite3.connect(first).execute("SELECT v FROM probe")] == ["first"]


def test_an_existing_file_or_planted_symlink_is_never_written_through(
    runner: CliRunner, config: Path, root: Path, taken: list[str]
) -> None:
    victim = root / "victim.txt"
    victim.write_text("precious")
    link = root / "planted.db"
    link.symlink_to(victim)
    for target in (victim, link):
        res = _ctl(runner, config, "restore", "latest", "--to", str(target))
        assert res.exit_code == 2 and "already exists" in res.stderr, res.output
        assert victim.read_text() == "precious"
    res = _ctl(runner, config, "restore", "latest", "--to", str(link), "--force")
    assert res.exit_code == 0, res.output
    assert not link.is_symlink() and victim.read_text() == "precious"  # the link replaced
    assert sqlite3.connect(link).execute("SELECT count(*) FROM probe").fetchone() == (2,)


def test_the_registry_itself_and_bad_choices_are_refused(
    runner: CliRunner, config: Path, root: Path, taken: list[str]
) -> None:
    registry = load_config(config).registry_path
    digest = _digest(registry)
    res = _ctl(runner, config, "restore", "latest", "--to", str(registry), "--force")
    assert res.exit_code == 2 and "is the registry itself" in res.stderr, res.output
    assert _digest(registry) == digest
    for args in (
        ("restore", "--to", str(root / "x.db")),  # no backup named
        ("restore", "latest", "--before", "2h", "--to", str(root / "x.db")),  # two
        ("restore", "--before", "yesterday-ish", "--to", str(root / "x.db")),
        ("restore", "latest", "--force", "--yes"),  # --force without --to
    ):
        res = _ctl(runner, config, *args)
        assert res.exit_code == 2, (args, res.output)
    res = _ctl(runner, config, "restore", "--before", "2000-01-01", "--to", str(root / "x.db"))
    assert res.exit_code == 1 and "no backup" in res.stderr and "taken before" in res.stderr
    assert not (root / "x.db").exists()


def test_a_damaged_backup_is_not_copied(
    runner: CliRunner, config: Path, root: Path, taken: list[str]
) -> None:
    _rot(load_config(config).backup_dir / taken[-1])
    out = root / "copy.db"
    res = _ctl(runner, config, "restore", taken[-1], "--to", str(out))
    assert res.exit_code == 1 and "sha256" in res.stderr, res.output
    assert not out.exists() and [p for p in root.iterdir() if "restore" in p.name] == []


def test_through_a_running_daemon_the_path_is_the_callers(
    runner: CliRunner, config: Path, root: Path, taken: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.inprocess import DaemonThread

    monkeypatch.chdir(root)
    with DaemonThread(load_config(config), config_path=config):
        res = _ctl(runner, config, "restore", "latest", "--to", "rel.db")  # relative to here
        assert res.exit_code == 0, res.output
    assert sqlite3.connect(root / "rel.db").execute("SELECT count(*) FROM probe").fetchone() == (2,)


def test_never_into_the_backup_dir_nor_an_empty_path(
    runner: CliRunner, config: Path, root: Path, taken: list[str]
) -> None:
    """A copy renamed over another backup would keep that backup's sidecar and its "verified";
    an empty --to (an unset shell variable) is no path (review, 2026-11-29)."""
    bak_dir = load_config(config).backup_dir
    newer = bak_dir / taken[-1]
    digest = _digest(newer)
    res = _ctl(runner, config, "restore", taken[0], "--to", str(newer), "--force")
    assert res.exit_code == 2 and "backup directory" in res.stderr, res.output
    assert _digest(newer) == digest
    res = _ctl(runner, config, "restore", taken[0], "--to", "")
    assert res.exit_code == 2 and "--to" in res.output, res.output
    assert not (Path.cwd() / taken[0]).exists()


def test_latest_and_before_skip_a_backup_that_failed_verification(
    runner: CliRunner, config: Path, root: Path, taken: list[str]
) -> None:
    _rot(load_config(config).backup_dir / taken[-1])
    assert _ctl(runner, config, "verify", taken[-1], "--local").exit_code == 1  # recorded: NO
    res = _ctl(runner, config, "restore", "latest", "--to", str(root / "good.db"), "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["restored"] == taken[0]
