"""Refuse to send a command to a daemon that works on another registry than the one named.

`ZARCH_REGISTRY=copy.db zarchctl backup`, `--config other.toml` or `ZARCH_CONFIG=...` name a
registry; the socket they lead to may still be the default one, where a daemon for another
registry listens. Acting there would back up (or restore over) the wrong registry and report
success. So when the user named a config or a registry, zarchctl first asks the daemon (`ping`,
which says its registry, backup directory and config) and refuses on a mismatch.

Why a ping and not a field in every request: the protocol refuses unknown request fields, so
a new field would break a new zarchctl against an older daemon; an older daemon's ping simply
lacks the fields, and then nothing is checked (as before). Why only when something was named:
with nothing named, zarchctl and the daemon read the same default config, and the extra round
trip buys nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from zarchd.app.commands import PING_TIMEOUT_S
from zarchd.core.config import Config
from zarchd.core.errors import DaemonNotRunning, UsageError

NAMING_VARS = ("ZARCH_CONFIG", "ZARCH_REGISTRY")


def named_explicitly(config_path: Path | None, env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return config_path is not None or any(env.get(var) for var in NAMING_VARS)


def _same(a: str | Path, b: str | Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def check_same_registry(cfg: Config) -> None:
    """UsageError (exit 2) when the daemon at cfg's socket works on another registry or backup
    directory than cfg names; nothing when they agree, no daemon answers, or it does not say."""
    from zarchd.control import client  # imported late, as in the runner

    try:
        info = client.call(cfg.socket_path, "ping", {}, timeout=PING_TIMEOUT_S)
    except DaemonNotRunning:
        return  # the command itself says so (or status reads the registry locally)
    if not isinstance(info, dict) or "registry" not in info:
        return  # an older daemon: it cannot tell us
    theirs = (str(info["registry"]), str(info.get("backup_dir", "")))
    ours = (cfg.registry_path, cfg.backup_dir)
    if _same(theirs[0], ours[0]) and (not theirs[1] or _same(theirs[1], ours[1])):
        return
    what = "registry" if not _same(theirs[0], ours[0]) else "backup directory"
    raise UsageError(
        f"the daemon at {cfg.socket_path} works on {what} "
        f"{theirs[0] if what == 'registry' else theirs[1]} (config "
        f"{info.get('config') or 'defaults'}), but you named "
        f"{ours[0] if what == 'registry' else ours[1]} (config {cfg.source or 'defaults'}); "
        f"nothing was done.\nTo act on {ours[0]} without a daemon, add --local; to use the "
        f"daemon that runs for it, pass its socket with --socket (or control.socket)."
    )
