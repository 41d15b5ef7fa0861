"""Where zarchd keeps things by default (platformdirs), in one place."""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import platformdirs

APP = "zarchd"
DEFAULT_REGISTRY = "~/.7zarch-go/registry.db"


def config_file() -> Path:
    return Path(platformdirs.user_config_dir(APP)) / "config.toml"


def state_root() -> Path:
    """Daemon state. systemd's StateDirectory= wins so a system service keeps it under /var/lib."""
    env = os.environ.get("STATE_DIRECTORY")
    if env:
        return Path(env.split(":")[0])
    return Path(platformdirs.user_state_dir(APP))


def default_socket() -> Path:
    """systemd's RuntimeDirectory= (system service: /run/zarchd) wins over the user runtime dir."""
    env = os.environ.get("RUNTIME_DIRECTORY")
    if env:
        return Path(env.split(":")[0]) / "zarchd.sock"
    with warnings.catch_warnings():
        # No XDG_RUNTIME_DIR (cron, su, ssh without a session): platformdirs falls back to
        # /tmp/runtime-<uid> and warns with a Python warning on every zarchctl call. The
        # socket dir is checked like any other (control.listener: shared_dir_risk).
        warnings.simplefilter("ignore")
        return Path(platformdirs.user_runtime_dir(APP)) / "zarchd.sock"


def registry_key(registry: Path) -> str:
    """A short stable name for per-registry state, so two registries never share a state file."""
    resolved = str(registry.expanduser().absolute())
    return f"{registry.stem}-{hashlib.sha256(resolved.encode()).hexdigest()[:12]}"


def state_dir_for(registry: Path) -> Path:
    return state_root() / registry_key(registry)
