"""`remote list` and `remote fleet`: what the remotes hold, read with nothing but the config.

A remote that cannot be read is reported in its entry (`error`) and the others still are; the
command table makes that exit 1. Times are shown in local time with their UTC offset.
"""

from __future__ import annotations

from datetime import datetime

from zarchd.app import remote_access
from zarchd.app.remote_access import RemoteCopy, RemoteTarget
from zarchd.app.results import (
    FleetJson,
    FleetPrefixJson,
    RemoteCopyJson,
    RemoteFleetResult,
    RemoteListJson,
    RemoteListResult,
)
from zarchd.backups import names
from zarchd.core.clock import Clock, utcnow
from zarchd.core.config import Config, RemoteConfig
from zarchd.core.errors import ZarchError


def local_time(moment: datetime | None) -> str | None:
    """`2026-11-29T08:01:02+01:00`: the machine's zone, offset shown."""
    if moment is None:
        return None
    return moment.astimezone(names.local_tz()).isoformat(timespec="seconds")


def chosen(cfg: Config, remote: str | None) -> list[RemoteConfig]:
    return [remote_access.find_remote(cfg, remote)] if remote else list(cfg.remotes)


def copy_json(copy: RemoteCopy) -> RemoteCopyJson:
    return {
        "name": copy.name,
        "size_bytes": copy.size,
        "created_at": local_time(copy.created),
        "complete": copy.complete,
        "verified": copy.verified if copy.complete else None,
    }


def remote_list(cfg: Config, remote: str | None = None) -> RemoteListResult:
    out: list[RemoteListJson] = []
    for rc in chosen(cfg, remote):
        entry: RemoteListJson = {
            "remote": rc.name,
            "target": rc.target,
            "prefix": rc.prefix_for(remote_access.local_host(), names.stem_of(cfg.registry_path)),
            "copies": [],
            "error": None,
        }
        try:
            target = remote_access.open_target(cfg, rc.name, None)
            entry["copies"] = [copy_json(c) for c in target.list()]
        except ZarchError as exc:
            entry["error"] = exc.message
        out.append(entry)
    return {"remotes": out}


def remote_fleet(
    cfg: Config, remote: str | None = None, *, now: Clock = utcnow
) -> RemoteFleetResult:
    out: list[FleetJson] = []
    moment = now()
    for rc in chosen(cfg, remote):
        max_age = cfg.remote_max_age(rc)
        entry: FleetJson = {
            "remote": rc.name,
            "target": rc.target,
            "max_age_s": max_age,
            "prefixes": [],
            "error": None,
        }
        try:
            target = RemoteTarget(rc, None, names.stem_of(cfg.registry_path))
            for found in target.hosts():
                # age: since the newest copy's upload completed (its sidecar's time)
                when = found.newest_at
                age = (moment - when).total_seconds() if when else None
                item: FleetPrefixJson = {
                    "host": found.host,
                    "registry": found.stem,
                    "prefix": f"{found.host}/{found.stem}/",
                    "copies": found.copies,
                    "newest": found.newest,
                    "newest_at": local_time(when),
                    "age_s": None if age is None else round(age, 1),
                    "stale": age is None or age > max_age,
                }
                entry["prefixes"].append(item)
        except ZarchError as exc:
            entry["error"] = exc.message
        out.append(entry)
    return {"remotes": out}
