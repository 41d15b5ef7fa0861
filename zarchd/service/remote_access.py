"""What a service unit must allow for the `[[remote]]` tables: the network and rclone's config.

Without remotes the unit stays as tight as before (AF_UNIX only, nothing extra to read).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from zarchd.core.config import Config


@dataclass(frozen=True)
class RemoteNeeds:
    network: bool = False
    readable: tuple[Path, ...] = ()


def rclone_default_config(env: Mapping[str, str], home: Path) -> Path:
    """Where rclone looks for its config when a remote names none: $RCLONE_CONFIG, else
    $XDG_CONFIG_HOME/rclone/rclone.conf, else ~/.config/rclone/rclone.conf."""
    if env.get("RCLONE_CONFIG"):
        return Path(env["RCLONE_CONFIG"])
    base = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else home / ".config"
    return base / "rclone" / "rclone.conf"


def remote_needs(cfg: Config, env: Mapping[str, str], home: Path) -> RemoteNeeds:
    remotes = cfg.remotes
    if not remotes:
        return RemoteNeeds()
    paths: list[Path] = []
    for remote in remotes:
        path = Path(remote.rclone_config) if remote.rclone_config else None
        path = path or rclone_default_config(env, home)
        path = Path(os.path.abspath(path.expanduser()))
        if path not in paths:
            paths.append(path)
    return RemoteNeeds(network=True, readable=tuple(paths))
