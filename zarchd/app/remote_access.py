"""The remote a user names (`--from REMOTE`, `remote list REMOTE`) as a RemoteTarget.

One host's copies of one registry live under `<target>/<prefix>` (remote/target.py); a copy
counts only once its sidecar is there (`complete`).
"""

from __future__ import annotations

from zarchd.backups import names
from zarchd.core.config import Config, RemoteConfig
from zarchd.core.errors import UsageError
from zarchd.remote.target import RemoteCopy, RemoteTarget, local_host

__all__ = ["RemoteCopy", "RemoteTarget", "describe", "find_remote", "local_host", "open_target"]


def find_remote(cfg: Config, name: str) -> RemoteConfig:
    for rc in cfg.remotes:
        if rc.name == name:
            return rc
    known = ", ".join(r.name for r in cfg.remotes) or "none: add a [[remote]] table to the config"
    raise UsageError(f"no remote named {name!r} in the config (known: {known})")


def open_target(cfg: Config, remote: str, host: str | None) -> RemoteTarget:
    """This registry's copies (another machine's with `host`) on the remote called `remote`."""
    if host is not None and (not host or "/" in host or host in (".", "..")):
        raise UsageError(f"--host {host!r}: expected a host name as `zarchctl remote fleet` shows")
    return RemoteTarget(find_remote(cfg, remote), host, names.stem_of(cfg.registry_path))


def describe(target: RemoteTarget) -> str:
    """How messages name a remote directory: `remote offsite (offsite:zarchd/laptop/registry/)`."""
    return f"remote {target.remote.name} ({target.dir})"
