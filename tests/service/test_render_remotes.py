"""Units rendered with [[remote]] tables let rclone reach the network and read its config;
without remotes they stay AF_UNIX only."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from zarchd.core.config import load_config
from zarchd.service import render, spec_from_config

from .helpers import verify

PY = (sys.executable, "-m", "zarchd")


def _config(tmp_path: Path, remotes: str = "") -> Path:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[registry]\npath = "{tmp_path / "reg" / "registry.db"}"\n'
        f'[backup]\ndir = "{tmp_path / "bak"}"\n' + remotes
    )
    return cfg


def _lines(text: str, key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(f"{key}=")]


REMOTES = (
    '[[remote]]\nname = "s3"\ntarget = "s3:bucket"\nrclone_config = "rc/rclone.conf"\n'
    '[[remote]]\nname = "box"\ntarget = "box:zarchd"\n'
)


@pytest.mark.parametrize("scope", ["user", "system"])
def test_remotes_open_the_network_and_the_rclone_config(tmp_path: Path, scope: str) -> None:
    cfg = load_config(_config(tmp_path, REMOTES))
    home = tmp_path / "home"
    env = {"RCLONE_CONFIG": str(home / "conf" / "rclone.conf"), "RCLONE_CONFIG_S3_KEY": "secret"}
    spec = spec_from_config(
        cfg, platform="linux", scope=scope, command=PY, home=home, env=env, group="zarchd"
    )
    text = render(spec)
    assert _lines(text, "RestrictAddressFamilies") == ["AF_UNIX AF_INET AF_INET6"]
    assert "IPAddressDeny" not in text
    # the named config, and rclone's own lookup ($RCLONE_CONFIG) for the remote naming none
    assert _lines(text, "ReadOnlyPaths")[0].split() == [
        f"-{tmp_path}/rc/rclone.conf",
        f"-{home}/conf/rclone.conf",
    ]
    # the path is passed on; RCLONE_CONFIG_* values (secrets) never go into a unit file
    assert f"Environment=RCLONE_CONFIG={home}/conf/rclone.conf" in text.splitlines()
    assert "secret" not in text
    unit = tmp_path / "zarchd.service"
    unit.write_text(text)
    done = verify(unit, user=scope == "user")
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_without_remotes_the_unit_stays_tight(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path))
    env = {"RCLONE_CONFIG": "/somewhere/rclone.conf"}
    spec = spec_from_config(cfg, platform="linux", scope="user", command=PY, env=env)
    text = render(spec)
    assert _lines(text, "RestrictAddressFamilies") == ["AF_UNIX"]
    assert "ReadOnlyPaths" not in text and "RCLONE" not in text


def test_default_rclone_config_follows_xdg(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path, '[[remote]]\nname = "b2"\ntarget = "b2:bucket"\n'))
    home = tmp_path / "home"
    spec = spec_from_config(cfg, platform="linux", scope="user", command=PY, home=home, env={})
    assert spec.readable == (home / ".config" / "rclone" / "rclone.conf",)
    xdg = spec_from_config(
        cfg,
        platform="linux",
        scope="user",
        command=PY,
        home=home,
        env={"XDG_CONFIG_HOME": str(tmp_path / "x")},
    )
    assert xdg.readable == (tmp_path / "x" / "rclone" / "rclone.conf",)
