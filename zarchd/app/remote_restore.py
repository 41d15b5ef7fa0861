"""`restore --from REMOTE` and recover's last resort: a copy fetched from an rclone remote.

The copy is downloaded into a private work directory (0700, a fresh name) beside where it goes,
its sidecar written next to it, and then it takes the local path: sha256 and size against the
sidecar, `PRAGMA integrity_check`, a safety backup of the current registry (into the local
backup directory), the swap. A copy that fails any check changes nothing. Needs nothing local
but the config (a new machine: no backup dir, no registry, no daemon).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from zarchd.app import remote_access
from zarchd.app.remote_access import RemoteCopy, RemoteTarget
from zarchd.backups import names
from zarchd.backups.downloaded import DownloadedCopy, fetch_dir, hold
from zarchd.backups.listing import resolve_name
from zarchd.backups.recover import prepared_copy, put_in_place
from zarchd.backups.restore import restore_backup
from zarchd.backups.restore_to import refuse_destination, target_path
from zarchd.backups.storage import BackupStore
from zarchd.backups.verify import backup_problems
from zarchd.core.clock import Clock, utcnow
from zarchd.core.config import Config
from zarchd.core.errors import IntegrityFailure, NotFound, UsageError, ZarchError
from zarchd.core.fsutil import fsync_file
from zarchd.core.progress import Progress, Stage, no_progress

LATEST = "latest"


def pick(copies: list[RemoteCopy], name: str, where: str) -> RemoteCopy:
    """The complete copy called `name`, or the newest complete one for `latest`."""
    complete = [c for c in copies if c.complete]
    if name == LATEST:
        if not complete:
            raise NotFound(
                f"no complete copy on {where}; `zarchctl remote list` shows what is there"
            )
        return complete[-1]
    names.check_plain_name(name)
    for copy in copies:
        if copy.name == name:
            if not copy.complete:
                raise NotFound(
                    f"the copy {name} on {where} is incomplete (no sidecar: its upload never "
                    f"finished); pick another from `zarchctl remote list`"
                )
            return copy
    raise NotFound(f"no copy named {name!r} on {where}; `zarchctl remote list` lists them")


def restore_from_remote(
    cfg: Config,
    store: BackupStore,
    name: str,
    remote: str,
    host: str | None = None,
    to: str | None = None,
    *,
    now: Clock = utcnow,
    progress: Progress = no_progress,
) -> dict[str, Any]:
    """Fetch `name` (or `latest`) of this registry from `remote` (another machine's: `host`) and
    put it in place of the registry, or write it to the new file `to`."""
    registry = cfg.registry_path
    stem = names.stem_of(registry)
    target = remote_access.open_target(cfg, remote, host)
    dest = registry
    if to:
        if not Path(to).is_absolute():
            raise UsageError(f"--to {to}: expected an absolute path")
        dest = Path(to)
        if not dest.parent.is_dir():  # never a typo's directories made (a new registry's are)
            raise UsageError(f"--to {to}: the directory {dest.parent} does not exist")
    where = remote_access.describe(target)
    copy = pick(target.list(), name, where)
    if to:
        dest = target_path(dest, copy.name)  # a directory: the copy goes into it, as locally
        refuse_destination(registry, store, dest)
        if os.path.lexists(dest):
            raise UsageError(
                f"{dest} already exists; --to writes a new file only, nothing was changed"
            )
    with fetch_dir(dest.parent, stem) as holding:
        fetched = fetch(target, copy, holding, store, progress)
        if to or not os.path.lexists(registry):
            # Nothing to keep a safety backup of or to swap out: the checked download itself
            # is linked into place (no second copy and check of 100s of MB).
            _check(registry, fetched, copy.name, now, progress, where)
            held = holding / copy.name
            os.chmod(held, 0o600)
            fsync_file(held)  # rclone never fsyncs: durable before it is published
            put_in_place(held, dest)
            if to:
                return {"restored": copy.name, "remote": remote, "written_to": str(dest)}
            return {
                "restored": copy.name,
                "remote": remote,
                "registry": str(registry),
                "method": "replace",
                "safety_backup": None,
                "corrupted_saved_as": None,
            }
        try:
            result = restore_backup(registry, fetched, copy.name, now=now, progress=progress)
        except IntegrityFailure as exc:
            raise IntegrityFailure(f"{exc.message} (the copy on {where} is damaged)") from exc
    result["remote"] = remote
    return result


def fetch(
    target: RemoteTarget,
    copy: RemoteCopy,
    holding: Path,
    store: BackupStore,
    progress: Progress,
) -> DownloadedCopy:
    """Download `copy` into `holding` (a private directory: nobody else can plant a file
    there), its sidecar beside it; the store that reads them."""
    with Stage(progress, "download", total=copy.size, of=copy.name):
        target.download(copy.name, holding / copy.name)
    hold(holding, copy.name, copy.meta)
    return DownloadedCopy(holding, store, remote_access.describe(target))


def _check(
    registry: Path,
    fetched: DownloadedCopy,
    name: str,
    now: Clock,
    progress: Progress,
    where: str,
) -> None:
    """IntegrityFailure unless the fetched copy is ours and passes sha256, size and integrity."""
    info = resolve_name(registry, fetched, name)
    problems = (
        ["its sidecar does not match its name: not trusted"]
        if not info.ours or info.untrusted
        else backup_problems(info, progress, now, fetched)
    )
    if problems:
        raise IntegrityFailure(
            f"the copy {name} on {where} failed its checks, nothing was changed: "
            f"{'; '.join(problems)}"
        )


def recover_fallback(
    cfg: Config,
    store: BackupStore,
    registry: Path,
    mode: int,
    stack: contextlib.ExitStack,
    now: Clock,
    progress: Progress,
    skipped: list[dict[str, Any]],
) -> tuple[Path, str] | None:
    """For recover when no local backup verifies: a prepared copy (next to `registry`) of the
    newest checked copy on the first remote that has one, and its name; else None. Copies
    that fail their checks, and remotes that cannot be read, are added to `skipped`."""
    stem = names.stem_of(registry)
    for rc in cfg.remotes:
        try:
            target = remote_access.open_target(cfg, rc.name, None)
            copies = [c for c in target.list() if c.complete]
        except ZarchError as exc:
            skipped.append({"name": f"remote {rc.name}", "problems": [exc.message]})
            continue
        where = remote_access.describe(target)
        for copy in reversed(copies):
            # A copy that fails goes at once (no pile of 100 MB downloads); a good one's
            # directory lives until the swap is done (`stack`).
            with contextlib.ExitStack() as attempt:
                holding = attempt.enter_context(fetch_dir(registry.parent, stem))
                try:
                    fetched = fetch(target, copy, holding, store, progress)
                    _check(registry, fetched, copy.name, now, progress, where)
                    ready = attempt.enter_context(
                        prepared_copy(holding / copy.name, registry, mode)
                    )
                except ZarchError as exc:
                    skipped.append({"name": f"{copy.name} on {where}", "problems": [exc.message]})
                    continue
                stack.push(attempt.pop_all())
                return ready, f"{copy.name} (from remote {rc.name})"
    return None
