"""Rendered units: systemd-analyze verify accepts them; escaping; the plist has its keys."""

from __future__ import annotations

import os
import plistlib
import sys
from pathlib import Path

from zarchd.core.config import load_config
from zarchd.service import ServiceSpec, render, spec_from_config
from zarchd.service.render import LABEL, MARKER

from .helpers import verify

PY = (sys.executable, "-m", "zarchd")


def _config(tmp_path: Path, registry_dir: str = "reg", backup_dir: str = "bak") -> Path:
    cfg = tmp_path / "conf dir" / "config.toml"
    cfg.parent.mkdir()
    cfg.write_text(
        f'[registry]\npath = "{tmp_path / registry_dir / "registry.db"}"\n'
        f'[backup]\ndir = "{tmp_path / backup_dir}"\n'
    )
    return cfg


def _lines(text: str, key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(f"{key}=")]


def test_user_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path))
    spec = spec_from_config(cfg, platform="linux", scope="user", command=PY)
    unit = tmp_path / "zarchd.service"
    unit.write_text(render(spec))
    done = verify(unit, user=True)
    assert done.returncode == 0 and done.stderr == "" and done.stdout == "", done.stderr
    text = unit.read_text()
    assert text.startswith(MARKER)
    for setting in (
        "Type=notify",
        "NotifyAccess=main",
        "WatchdogSec=60s",
        "Restart=on-failure",
        "RuntimeDirectory=zarchd",
        "TimeoutStartSec=15min",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "RestrictAddressFamilies=AF_UNIX",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "WantedBy=default.target",
    ):
        assert setting in text.splitlines(), setting
    assert "User=" not in text and "StateDirectory=" not in text
    assert _lines(text, "ExecStart") == [
        f'{sys.executable} -m zarchd run --config "{tmp_path}/conf dir/config.toml"'
    ]
    rw = _lines(text, "ReadWritePaths")[0].split()
    assert rw == [f"-{tmp_path}/reg", f"-{tmp_path}/bak", f"-{cfg.state_dir.parent}"]


def test_system_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path))
    # verify does not look the user up (it warns about `nobody`): the default dedicated user
    spec = spec_from_config(cfg, platform="linux", scope="system", command=PY, group="zarchd")
    unit = tmp_path / "zarchd.service"
    unit.write_text(render(spec))
    done = verify(unit, user=False)
    assert done.returncode == 0 and done.stderr == "" and done.stdout == "", done.stderr
    text = unit.read_text()
    assert "User=zarchd" in text.splitlines() and "Group=zarchd" in text.splitlines()
    assert "StateDirectory=zarchd" in text.splitlines()
    assert "WantedBy=multi-user.target" in text.splitlines()
    # with a config file the daemon reads it; the state dir is StateDirectory=, not a home path
    assert _lines(text, "ReadWritePaths")[0].split() == [f"-{tmp_path}/reg", f"-{tmp_path}/bak"]
    assert "Environment=" not in text


def test_system_unit_without_config_names_the_registry(tmp_path: Path) -> None:
    cfg = load_config(env={"ZARCH_REGISTRY": str(tmp_path / "r" / "registry.db")})
    spec = spec_from_config(cfg, platform="linux", scope="system", command=PY, env={})
    text = render(spec)
    assert f"Environment=ZARCH_REGISTRY={tmp_path}/r/registry.db" in text.splitlines()
    assert _lines(text, "ExecStart") == [f"{sys.executable} -m zarchd run"]


def test_verify_rejects_a_missing_binary(tmp_path: Path) -> None:
    """The verify check has teeth: an ExecStart that does not exist fails it."""
    spec = ServiceSpec(platform="linux", scope="user", command=(str(tmp_path / "nope"),))
    unit = tmp_path / "zarchd.service"
    unit.write_text(render(spec))
    done = verify(unit, user=True)
    assert done.returncode != 0 and "nope" in done.stderr


def test_awkward_paths_are_escaped_and_still_verify(tmp_path: Path) -> None:
    odd = tmp_path / "50% off $HOME"
    odd.mkdir()
    spec = ServiceSpec(
        platform="linux",
        scope="user",
        command=PY,
        config_file=odd / "c.toml",
        writable=(odd,),
        environment=(("ZARCH_REGISTRY", f"{odd}/r.db"),),
    )
    unit = tmp_path / "zarchd.service"
    unit.write_text(render(spec))
    done = verify(unit, user=True)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    text = unit.read_text()
    escaped = str(odd).replace("%", "%%")
    in_exec = escaped.replace("$", "$$")
    assert _lines(text, "ExecStart")[0].endswith(f'run --config "{in_exec}/c.toml"')
    assert _lines(text, "ReadWritePaths") == [f'"-{escaped}"']
    assert _lines(text, "Environment") == [f'"ZARCH_REGISTRY={escaped}/r.db"']


def test_no_sandbox_leaves_out_namespace_options_only(tmp_path: Path) -> None:
    spec = ServiceSpec(
        platform="linux", scope="user", command=PY, writable=(tmp_path,), sandbox=False
    )
    text = render(spec)
    assert "ProtectSystem=" not in text and "ReadWritePaths=" not in text
    assert "PrivateTmp=" not in text
    assert "NoNewPrivileges=yes" in text and "MemoryDenyWriteExecute=yes" in text
    unit = tmp_path / "zarchd.service"
    unit.write_text(text)
    assert verify(unit, user=True).returncode == 0


def test_home_paths_become_specifiers(tmp_path: Path) -> None:
    home = tmp_path / "home"
    spec = ServiceSpec(
        platform="linux",
        scope="user",
        command=(str(home / "bin/zarchd"),),
        writable=(home / ".7zarch-go",),
        home=home,
    )
    text = render(spec)
    assert _lines(text, "ExecStart") == ["%h/bin/zarchd run"]
    assert _lines(text, "ReadWritePaths") == ["-%h/.7zarch-go"]


def test_launchd_plist_parses_and_has_the_keys(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path))
    home = tmp_path / "Users" / "me"
    zarchd = tmp_path / "bin" / "zarchd"
    spec = spec_from_config(
        cfg,
        platform="macos",
        scope="user",
        command=(str(zarchd),),
        home=home,
        env={"ZARCH_LOG_LEVEL": "debug"},
    )
    data = plistlib.loads(render(spec).encode())
    for key in (
        "Label",
        "ProgramArguments",
        "RunAtLoad",
        "KeepAlive",
        "StandardErrorPath",
        "StandardOutPath",
        "EnvironmentVariables",
    ):
        assert key in data, key
    assert data["Label"] == LABEL
    assert data["ProgramArguments"] == [str(zarchd), "run", "--config", str(cfg.source)]
    assert data["RunAtLoad"] is True and data["KeepAlive"] == {"SuccessfulExit": False}
    log = str(home / "Library" / "Logs" / "zarchd" / "zarchd.log")
    assert data["StandardErrorPath"] == log and data["StandardOutPath"] == log
    env = data["EnvironmentVariables"]
    assert env["ZARCH_CONFIG"] == str(cfg.source) and env["ZARCH_LOG_LEVEL"] == "debug"
    assert env["PATH"].split(os.pathsep)[0] == str(zarchd.parent)
