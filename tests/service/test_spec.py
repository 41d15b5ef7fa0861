"""What goes into a unit: the zarchd command, writable dirs, environment, locations."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from zarchd.core.config import load_config
from zarchd.core.errors import UsageError
from zarchd.service import ServiceSpec, current_platform, find_command, spec_from_config, unit_path
from zarchd.service.locations import under_root

from .helpers import make_exe


def test_find_command_prefers_the_running_script(tmp_path: Path) -> None:
    script = make_exe(tmp_path / "a" / "zarchd")
    venv_script = make_exe(tmp_path / "venv" / "bin" / "zarchd")
    python = tmp_path / "venv" / "bin" / "python"
    assert find_command(str(script), str(python), lambda _: None) == (str(script),)
    # run as `python -m ...`: the zarchd script next to this venv's python
    assert find_command("-m", str(python), lambda _: None) == (str(venv_script),)


def test_find_command_keeps_symlinks(tmp_path: Path) -> None:
    """pipx/Homebrew links point into versioned dirs: the link survives upgrades, its target not."""
    target = make_exe(tmp_path / "Cellar" / "1.0" / "zarchd")
    link = tmp_path / "bin" / "zarchd"
    link.parent.mkdir()
    link.symlink_to(target)
    assert find_command("x", str(tmp_path / "py"), lambda _: str(link)) == (str(link),)


def test_find_command_falls_back_to_python_m(tmp_path: Path) -> None:
    python = str(tmp_path / "py" / "python3")
    assert find_command("-c", python, lambda _: None) == (python, "-m", "zarchd")
    # a non-executable `zarchd` is no candidate
    (tmp_path / "py").mkdir()
    (tmp_path / "py" / "zarchd").write_text("")
    assert find_command("-c", python, lambda _: None) == (python, "-m", "zarchd")


def test_spec_from_config_collects_writable_dirs_and_env(tmp_path: Path) -> None:
    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text(
        f'[registry]\npath = "{tmp_path}/r/registry.db"\n'
        f'[control]\nsocket = "{tmp_path}/sock/z.sock"\n'
    )
    cfg = load_config(cfg_file)
    spec = spec_from_config(
        cfg,
        platform="linux",
        scope="user",
        command=("/x/zarchd",),
        env={"ZARCH_LOG_LEVEL": "debug", "UNRELATED": "1"},
    )
    # backup dir defaults to the registry's dir: listed once
    assert spec.writable == (tmp_path / "r", cfg.state_dir.parent, tmp_path / "sock")
    assert spec.environment == (("ZARCH_LOG_LEVEL", "debug"),)
    assert spec.argv == ["/x/zarchd", "run", "--config", str(cfg_file)]


def test_macos_has_no_system_scope() -> None:
    with pytest.raises(UsageError, match="--user"):
        ServiceSpec(platform="macos", scope="system", command=("/z",))
    with pytest.raises(UsageError, match="--user"):
        unit_path("macos", "system")


def test_locations(tmp_path: Path) -> None:
    home = tmp_path / "h"
    assert unit_path("linux", "user", home=home, env={}) == (
        home / ".config/systemd/user/zarchd.service"
    )
    assert unit_path("linux", "user", home=home, env={"XDG_CONFIG_HOME": "/c"}) == Path(
        "/c/systemd/user/zarchd.service"
    )
    assert unit_path("linux", "system") == Path("/etc/systemd/system/zarchd.service")
    assert unit_path("macos", "user", home=home) == (
        home / "Library/LaunchAgents/com.zarchd.zarchd.plist"
    )
    assert under_root(Path("/etc/x"), tmp_path) == tmp_path / "etc" / "x"
    assert current_platform("linux") == "linux" and current_platform("darwin") == "macos"
    assert current_platform("macos") == "macos"  # the --platform spelling
    with pytest.raises(UsageError, match="systemd"):
        current_platform("win32")
    assert current_platform() == ("macos" if sys.platform == "darwin" else "linux")
