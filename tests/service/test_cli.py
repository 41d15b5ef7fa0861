"""`zarchd service print|install|uninstall` through the Typer app, writing into tmp roots.

systemctl/launchctl are small recording scripts found first on PATH (real processes); the
tmp root stands in for / so `<root>/run/systemd/system` says whether systemd "runs".
"""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from zarchd.cli.service_cmd import app

from .helpers import fake_tool

runner = CliRunner()


@pytest.fixture
def box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A root with systemd "running", a PATH holding only fake tools, a config with its dirs."""
    root = tmp_path / "root"
    (root / "run" / "systemd" / "system").mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[registry]\npath = "{tmp_path}/reg/registry.db"\n[backup]\ndir = "{tmp_path}/bak"\n'
    )
    monkeypatch.setenv("ZARCH_CONFIG", str(cfg))
    return {"root": root, "bin": bin_dir, "log": tmp_path / "calls.log", "tmp": tmp_path}


def _user_unit(root: Path) -> Path:
    config_home = Path(os.environ["XDG_CONFIG_HOME"]).relative_to("/")
    return root / config_home / "systemd/user/zarchd.service"


def _foreign_unit(root: Path) -> Path:
    """A user unit file zarchd did not write, where zarchd's would go."""
    unit = _user_unit(root)
    unit.parent.mkdir(parents=True)
    unit.write_text("[Service]\nExecStart=/bin/true\n")
    return unit


def _invoke(*args: str) -> Result:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def _calls(box: dict[str, Path]) -> list[str]:
    return box["log"].read_text().splitlines() if box["log"].exists() else []


def test_print_shows_the_unit_for_this_config(box: dict[str, Path]) -> None:
    result = _invoke("print", "--platform", "linux")
    assert result.exit_code == 0
    assert "Type=notify" in result.stdout
    assert f"-{box['tmp']}/reg -{box['tmp']}/bak" in result.stdout
    mac = _invoke("print", "--platform", "macos")
    assert plistlib.loads(mac.stdout.encode())["Label"] == "com.zarchd.zarchd"


def test_bad_config_is_a_message_not_a_traceback(box: dict[str, Path]) -> None:
    (box["tmp"] / "config.toml").write_text("[registry]\nnope = 1\n")
    result = _invoke("print", "--platform", "linux")
    assert result.exit_code == 2
    assert "registry.nope" in result.stderr and "Traceback" not in result.output


def test_dry_run_changes_nothing(box: dict[str, Path]) -> None:
    fake_tool(box["bin"], "systemctl", box["log"])
    result = _invoke("install", "--dry-run", "--platform", "linux", "--root", str(box["root"]))
    assert result.exit_code == 0, result.output
    unit = _user_unit(box["root"])
    assert f"would write {unit}:" in result.stdout and "Type=notify" in result.stdout
    assert "would run: systemctl --user enable --now zarchd.service" in result.stdout
    assert not unit.exists() and _calls(box) == []
    assert not (box["root"] / str(box["tmp"] / "reg").lstrip("/")).exists()


def test_install_writes_enables_and_is_idempotent(box: dict[str, Path]) -> None:
    fake_tool(box["bin"], "systemctl", box["log"])
    result = _invoke("install", "--platform", "linux", "--root", str(box["root"]))
    assert result.exit_code == 0, result.output
    unit = _user_unit(box["root"])
    assert unit.read_text().startswith("# Managed by zarchd")
    assert oct(unit.stat().st_mode & 0o777) == "0o644"
    assert _calls(box) == [
        "systemctl --user daemon-reload",
        "systemctl --user enable --now zarchd.service",
    ]
    assert "$ systemctl --user enable --now zarchd.service" in result.stdout
    assert "zarchctl status" in result.stdout
    # the sandbox needs the writable dirs to exist: created (under the root)
    assert (box["root"] / str(box["tmp"] / "bak").lstrip("/")).is_dir()
    again = _invoke("install", "--platform", "linux", "--root", str(box["root"]))
    assert again.exit_code == 0 and "already installed" in again.stdout


def test_differing_unit_is_refused_with_a_diff_unless_forced(box: dict[str, Path]) -> None:
    fake_tool(box["bin"], "systemctl", box["log"])
    unit = _foreign_unit(box["root"])
    refused = _invoke("install", "--platform", "linux", "--root", str(box["root"]))
    assert refused.exit_code == 1
    assert "differs" in refused.stderr and "not written by zarchd" in refused.stderr
    assert "-ExecStart=/bin/true" in refused.stderr and "--force" in refused.stderr
    assert unit.read_text() == "[Service]\nExecStart=/bin/true\n" and _calls(box) == []
    forced = _invoke("install", "--force", "--platform", "linux", "--root", str(box["root"]))
    assert forced.exit_code == 0, forced.output
    assert "replaced" in forced.stdout and "Type=notify" in unit.read_text()
    assert _calls(box)[-1] == "systemctl --user restart zarchd.service"


def test_failing_systemctl_is_reported_with_its_stderr(box: dict[str, Path]) -> None:
    fake_tool(box["bin"], "systemctl", box["log"], fail_on="enable", exit_code=4)
    result = _invoke("install", "--platform", "linux", "--root", str(box["root"]))
    assert result.exit_code == 1
    assert "failed with exit status 4" in result.stderr
    assert "Failed to enable: no bus" in result.stderr
    assert "systemctl --user enable --now zarchd.service" in result.stderr  # what to run later
    assert "Traceback" not in result.output and _user_unit(box["root"]).exists()


def test_without_systemd_the_unit_is_written_and_commands_named(box: dict[str, Path]) -> None:
    # systemctl is not on PATH (as in most containers)
    result = _invoke("install", "--platform", "linux", "--root", str(box["root"]))
    assert result.exit_code == 0, result.output
    assert "`systemctl` was not found" in result.stdout
    assert "  systemctl --user enable --now zarchd.service" in result.stdout
    assert _user_unit(box["root"]).exists()
    # systemctl present but systemd not running (no /run/systemd/system under the root)
    fake_tool(box["bin"], "systemctl", box["log"])
    (box["root"] / "run" / "systemd" / "system").rmdir()
    _user_unit(box["root"]).unlink()
    result = _invoke("install", "--platform", "linux", "--root", str(box["root"]))
    assert result.exit_code == 0 and "systemd is not running" in result.stdout
    assert _calls(box) == []


def test_uninstall_stops_removes_and_reloads(box: dict[str, Path]) -> None:
    fake_tool(box["bin"], "systemctl", box["log"])
    assert _invoke("install", "--platform", "linux", "--root", str(box["root"])).exit_code == 0
    dry = _invoke("uninstall", "--dry-run", "--platform", "linux", "--root", str(box["root"]))
    assert dry.exit_code == 0 and "would remove" in dry.stdout and _user_unit(box["root"]).exists()
    box["log"].unlink()
    result = _invoke("uninstall", "--platform", "linux", "--root", str(box["root"]))
    assert result.exit_code == 0, result.output
    assert not _user_unit(box["root"]).exists()
    assert _calls(box) == [
        "systemctl --user disable --now zarchd.service",
        "systemctl --user daemon-reload",
    ]
    gone = _invoke("uninstall", "--platform", "linux", "--root", str(box["root"]))
    assert gone.exit_code == 0 and "not installed" in gone.stdout


def test_uninstall_leaves_a_foreign_unit_alone(box: dict[str, Path]) -> None:
    fake_tool(box["bin"], "systemctl", box["log"])
    unit = _foreign_unit(box["root"])
    result = _invoke("uninstall", "--platform", "linux", "--root", str(box["root"]))
    assert result.exit_code == 1 and "not written by zarchd" in result.stderr
    assert unit.exists() and _calls(box) == []


def test_system_install_checks_the_service_user(box: dict[str, Path]) -> None:
    fake_tool(box["bin"], "systemctl", box["log"])
    missing = _invoke(
        "install",
        "--system",
        "--run-as",
        "no-such-user-zarchd",
        "--platform",
        "linux",
        "--root",
        str(box["root"]),
    )
    assert missing.exit_code == 1 and "useradd" in missing.stderr
    result = _invoke(
        "install",
        "--system",
        "--run-as",
        "daemon",
        "--platform",
        "linux",
        "--root",
        str(box["root"]),
    )
    assert result.exit_code == 0, result.output
    unit = box["root"] / "etc/systemd/system/zarchd.service"
    assert "User=daemon" in unit.read_text().splitlines()
    assert _calls(box) == ["systemctl daemon-reload", "systemctl enable --now zarchd.service"]


def test_macos_install_bootstraps_the_agent(box: dict[str, Path]) -> None:
    fake_tool(box["bin"], "launchctl", box["log"])  # `print` fails: not loaded yet
    result = _invoke("install", "--platform", "macos", "--root", str(box["root"]))
    assert result.exit_code == 0, result.output
    home = box["root"] / str(Path.home()).lstrip("/")
    plist = home / "Library/LaunchAgents/com.zarchd.zarchd.plist"
    data = plistlib.loads(plist.read_bytes())
    assert data["ProgramArguments"][-3:] == ["run", "--config", str(box["tmp"] / "config.toml")]
    assert (home / "Library/Logs/zarchd").is_dir()
    uid = os.getuid()
    assert _calls(box)[-2:] == [
        f"launchctl enable gui/{uid}/com.zarchd.zarchd",
        f"launchctl bootstrap gui/{uid} {plist}",
    ]
    box["log"].unlink()
    fake_tool(box["bin"], "launchctl", box["log"], print_code=0)  # now it is loaded
    result = _invoke("uninstall", "--platform", "macos", "--root", str(box["root"]))
    assert result.exit_code == 0 and not plist.exists()
    assert _calls(box)[-1] == f"launchctl bootout gui/{uid}/com.zarchd.zarchd"


def test_module_runs_as_a_program(box: dict[str, Path]) -> None:
    """`python -m zarchd.cli.service_cmd` is a working entry point (the lead mounts `app`)."""
    done = subprocess.run(
        [sys.executable, "-m", "zarchd.cli.service_cmd", "print", "--platform", "linux"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0 and "NotifyAccess=main" in done.stdout, done.stderr
