"""Completion of backup names and migration ids: read from the files, no daemon."""

from __future__ import annotations

import shutil
from pathlib import Path

import typer
from typer.testing import CliRunner

from zarchd.cli import zarchctl, zarchd


def _complete(runner: CliRunner, app: typer.Typer, prog: str, line: str) -> list[str]:
    words = line.split(" ")
    env = {
        f"_{prog.upper()}_COMPLETE": "complete_bash",
        "COMP_WORDS": line,
        "COMP_CWORD": str(len(words) - 1),
    }
    res = runner.invoke(app, [], env=env, prog_name=prog)
    assert res.exit_code == 0, res.output
    return res.stdout.split()


def test_restore_and_verify_complete_backup_names(
    runner: CliRunner, config: Path, root: Path
) -> None:
    backups = root / "reg"
    for name in ("registry-20260101-010101-zarchd.bak", "registry-20260202-020202.bak"):
        shutil.copyfile(backups / "registry.db", backups / name)
    (backups / "registry-20260101-010101-zarchd.bak.json").write_text("{}")
    (backups / "notes.txt").write_text("")
    for cmd in ("restore", "verify"):
        got = _complete(runner, zarchctl.app, "zarchctl", f"zarchctl {cmd} --config {config} ")
        assert got == ["registry-20260101-010101-zarchd.bak", "registry-20260202-020202.bak"]
    got = _complete(
        runner, zarchctl.app, "zarchctl", f"zarchctl restore --config {config} registry-202602"
    )
    assert got == ["registry-20260202-020202.bak"]


def test_rollback_to_completes_migration_ids(runner: CliRunner, config: Path) -> None:
    got = _complete(
        runner, zarchctl.app, "zarchctl", f"zarchctl rollback --config {config} --to 000"
    )
    assert got[:5] == [
        "0001_baseline",
        "0002_identity_and_status",
        "0003_trash_fields",
        "0004_query_system",
        "0005_search_index",
    ]


def test_a_bad_config_completes_nothing_and_prints_no_error(runner: CliRunner, root: Path) -> None:
    bad = root / "bad.toml"
    bad.write_text("[nope]\n")
    assert _complete(runner, zarchctl.app, "zarchctl", f"zarchctl restore --config {bad} ") == []


def test_zarchd_completes_its_commands(runner: CliRunner) -> None:
    assert _complete(runner, zarchd.app, "zarchd", "zarchd ") == ["run", "service"]
    assert "install" in _complete(runner, zarchd.app, "zarchd", "zarchd service ")


def test_zarchd_offers_to_install_its_completion(runner: CliRunner) -> None:
    res = runner.invoke(zarchd.app, ["-h"])
    assert res.exit_code == 0 and "--install-completion" in res.stdout
