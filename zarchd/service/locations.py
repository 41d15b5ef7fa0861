"""Where a unit goes per platform and scope, and the test/staging root that can prefix it."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from zarchd.core.errors import UsageError
from zarchd.service.render import LABEL
from zarchd.service.spec import check_target

UNIT_NAME = "zarchd.service"


def current_platform(name: str | None = None) -> str:
    """'linux' or 'macos' for sys.platform (or `name`, either spelling: 'darwin' or 'macos');
    other systems have no unit to offer."""
    name = sys.platform if name is None else name
    if name.startswith("linux"):
        return "linux"
    if name in ("darwin", "macos"):
        return "macos"
    raise UsageError(
        f"no service manager support for platform {name!r}: zarchd knows systemd "
        "(Linux) and launchd (macOS); run `zarchd run` from your own supervisor"
    )


def unit_path(
    platform: str, scope: str, *, home: Path | None = None, env: Mapping[str, str] | None = None
) -> Path:
    """The path the service manager reads the unit from (before any root prefix)."""
    check_target(platform, scope)
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    if platform == "macos":
        return home / "Library" / "LaunchAgents" / f"{LABEL}.plist"
    if scope == "system":
        return Path("/etc/systemd/system") / UNIT_NAME
    config_home = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else home / ".config"
    return config_home / "systemd" / "user" / UNIT_NAME


def under_root(path: Path, root: Path | None) -> Path:
    """`path` as seen through `root`: /etc/x with root /tmp/r is /tmp/r/etc/x."""
    if root is None:
        return path
    return root / Path(os.path.abspath(path)).relative_to("/")
