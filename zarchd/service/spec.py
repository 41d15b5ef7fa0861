"""What a service unit says: the facts `render` needs, gathered from the config and this install."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from zarchd.core.config import Config
from zarchd.core.errors import UsageError
from zarchd.service.remote_access import remote_needs

PLATFORMS = ("linux", "macos")
SCOPES = ("user", "system")
DEFAULT_RUN_AS = "zarchd"
# Settings the daemon reads from its environment: the unit carries the ones set at install
# time, so the daemon guards the same registry the unit grants write access to.
PASSED_ENV = ("ZARCH_REGISTRY", "ZARCH_SOCKET", "ZARCH_LOG_LEVEL", "ZARCH_DB_AUTOMIGRATE")


def check_target(platform: str, scope: str) -> None:
    """A platform and scope zarchd has a unit for (UsageError otherwise)."""
    if platform not in PLATFORMS:
        raise UsageError(f"unknown platform {platform!r} (known: {', '.join(PLATFORMS)})")
    if scope not in SCOPES:
        raise UsageError(f"unknown scope {scope!r} (known: {', '.join(SCOPES)})")
    if platform == "macos" and scope == "system":
        raise UsageError("on macOS zarchd runs as a launchd agent of your user: use --user")


@dataclass(frozen=True)
class ServiceSpec:
    platform: str  # "linux" (systemd) or "macos" (launchd)
    scope: str  # "user" or "system"
    command: tuple[str, ...]  # how to start zarchd, e.g. ("/usr/local/bin/zarchd",)
    config_file: Path | None = None  # passed as `run --config PATH`
    writable: tuple[Path, ...] = ()  # directories the sandbox must leave writable
    environment: tuple[tuple[str, str], ...] = ()
    log_dir: Path | None = None  # launchd: StandardOutPath/StandardErrorPath live here
    run_as: str = DEFAULT_RUN_AS  # system unit: User=
    group: str | None = None  # system unit: Group= (default: the user's own group)
    sandbox: bool = True  # namespace-based hardening (needs user namespaces)
    watchdog_sec: int = 60
    home: Path | None = None  # systemd: write paths under it as %h (portable units)
    network: bool = False  # [[remote]] tables: rclone needs AF_INET/AF_INET6
    readable: tuple[Path, ...] = ()  # rclone config files the sandbox must let it read

    def __post_init__(self) -> None:
        check_target(self.platform, self.scope)
        if not self.command:
            raise UsageError("no command to start zarchd")

    @property
    def argv(self) -> list[str]:
        """The daemon's full command line."""
        extra = ["--config", str(self.config_file)] if self.config_file else []
        return [*self.command, "run", *extra]


def find_command(
    argv0: str | None = None,
    executable: str | None = None,
    which: Callable[[str], str | None] = shutil.which,
) -> tuple[str, ...]:
    """The command that starts this installation of zarchd, as an absolute path.

    Paths are made absolute but symlinks are kept: pipx's ~/.local/bin/zarchd and Homebrew's
    /usr/local/bin/zarchd are symlinks into versioned directories that change on upgrade, and a
    venv's python is a symlink whose target does not see the venv's packages.
    """
    argv0 = sys.argv[0] if argv0 is None else argv0
    executable = sys.executable if executable is None else executable
    candidates = []
    if argv0 and Path(argv0).name == "zarchd":
        candidates.append(Path(argv0))
    if executable:
        candidates.append(Path(executable).parent / "zarchd")  # the script of this venv
    found = which("zarchd")
    if found:
        candidates.append(Path(found))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return (os.path.abspath(path),)
    if not executable:
        raise UsageError("cannot tell how to start zarchd: no `zarchd` on PATH and no Python path")
    return (os.path.abspath(executable), "-m", "zarchd")


def _dedupe(paths: list[Path]) -> tuple[Path, ...]:
    seen: list[Path] = []
    for p in paths:
        p = Path(os.path.abspath(p.expanduser()))
        if p not in seen:
            seen.append(p)
    return tuple(seen)


def spec_from_config(
    cfg: Config,
    *,
    platform: str,
    scope: str,
    command: tuple[str, ...],
    home: Path | None = None,
    run_as: str = DEFAULT_RUN_AS,
    group: str | None = None,
    sandbox: bool = True,
    env: Mapping[str, str] | None = None,
) -> ServiceSpec:
    """The spec for this machine: configured registry/backup dirs, this zarchd, this user's home."""
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    writable = [cfg.registry.path.parent, cfg.backup_dir]
    if scope == "user":
        writable.append(cfg.state_dir.parent)  # system units get StateDirectory= instead
    if cfg.control.socket is not None:
        writable.append(cfg.control.socket.parent)
    environment = {k: env[k] for k in PASSED_ENV if env.get(k)}
    remotes = remote_needs(cfg, env, home)
    if remotes.network and env.get("RCLONE_CONFIG"):  # a path; RCLONE_CONFIG_* secrets never
        environment["RCLONE_CONFIG"] = env["RCLONE_CONFIG"]
    if scope == "system" and cfg.source is None:
        # The service user has its own (empty) config dir: name the registry explicitly.
        environment.setdefault("ZARCH_REGISTRY", str(cfg.registry.path))
    config_file = Path(os.path.abspath(cfg.source)) if cfg.source else None
    if platform == "macos" and config_file:
        environment["ZARCH_CONFIG"] = str(config_file)
    return ServiceSpec(
        platform=platform,
        scope=scope,
        command=command,
        config_file=config_file,
        writable=_dedupe(writable),
        environment=tuple(sorted(environment.items())),
        log_dir=home / "Library" / "Logs" / "zarchd" if platform == "macos" else None,
        run_as=run_as,
        group=group,
        sandbox=sandbox,
        network=remotes.network,
        readable=remotes.readable,
    )
