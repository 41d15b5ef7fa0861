"""`restore NAME --to PATH`: a checked copy of a backup somewhere to look at it.

Never touches the registry (so needs no writer lock): the copy is made in a fresh temp file
(mkstemp, O_EXCL) beside PATH, its sha256 compared with the one recorded when the backup was
taken and its integrity checked, and only then linked in at PATH, which it never overwrites
(with `force`, renamed over it: a planted symlink there is replaced, never written through).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any

from zarchd.backups import files
from zarchd.backups.meta import BackupInfo
from zarchd.backups.recover import prepared_copy
from zarchd.backups.storage import BackupStore
from zarchd.core.errors import IntegrityFailure, UnsafePath, UsageError
from zarchd.core.fsutil import fsync_dir, publish, untrusted_reason
from zarchd.core.progress import Progress, Stage, no_progress
from zarchd.db.registry import companions


def target_path(to: Path, name: str) -> Path:
    """PATH itself, or PATH/NAME when PATH is a directory (a real one, not a symlink to one)."""
    try:
        st = os.lstat(to)
    except FileNotFoundError:
        return to
    return to / name if stat.S_ISDIR(st.st_mode) else to


def restore_to(
    registry: Path,
    store: BackupStore,
    info: BackupInfo,
    to: Path,
    *,
    force: bool = False,
    progress: Progress = no_progress,
) -> dict[str, Any]:
    if not to.is_absolute():
        raise UsageError(f"--to {to}: expected an absolute path")
    dest = target_path(to, info.name)
    refuse_destination(registry, store, dest)
    if not dest.parent.is_dir():
        raise UsageError(f"--to {to}: the directory {dest.parent} does not exist")
    if os.path.lexists(dest):
        if not force:
            raise UsageError(f"{dest} already exists; nothing was written (--force replaces it)")
        if stat.S_ISDIR(os.lstat(dest).st_mode):
            raise UsageError(f"{dest} is a directory; nothing was written")
    meta = store.read_sidecar(info.name) if info.ours else None
    copying = Stage(progress, "copy", total=info.size_bytes, of=info.name).start()
    with store.open(info.name) as source, prepared_copy(source, dest, expect=info.ident) as tmp:
        copying.end()
        with Stage(progress, "hash", total=info.size_bytes, of=info.name):
            digest, size = files.sha256_and_size(tmp)  # the copy itself, as it will stay
        if meta is not None and (digest, size) != (meta.get("sha256"), meta.get("size_bytes")):
            raise IntegrityFailure(
                f"the copy of {info.name} does not match the sha256 recorded when it was "
                f"taken; nothing was written at {dest}"
            )
        _put(tmp, dest, force)
    return {
        "restored": info.name,
        "to": str(dest),
        "sha256": digest,
        "size_bytes": size,
        "registry": str(registry),
        "method": "copy",
    }


def refuse_destination(registry: Path, store: BackupStore, dest: Path) -> None:
    """--to never names the live registry (or its -wal/-journal), whatever the spelling, nor a
    file in the backup store (a copy renamed over a backup would keep that backup's sidecar)."""
    real = Path(os.path.realpath(dest))
    live = [registry, *companions(registry)]
    if any(real == Path(os.path.realpath(p)) for p in live):
        raise UsageError(
            f"--to {dest} is the registry itself; `zarchctl restore NAME` (without --to) "
            "replaces it, after a safety backup"
        )
    if real.parent == Path(os.path.realpath(str(store))):
        raise UsageError(
            f"--to {dest} is in the backup directory {store}; choose a place outside it"
        )


def _put(tmp: Path, dest: Path, force: bool) -> None:
    if not force:
        try:
            publish(tmp, dest)  # a link: never overwrites what appeared meanwhile
        except FileExistsError:
            raise UsageError(f"{dest} appeared meanwhile; nothing was overwritten") from None
        return
    why = untrusted_reason(os.lstat(tmp))
    if why is not None:
        raise UnsafePath(f"the temporary file {tmp} changed under us ({why}); nothing written")
    try:
        os.replace(tmp, dest)  # replaces a symlink at dest itself, never its target
    except OSError as exc:
        if exc.errno in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST):
            raise UsageError(f"{dest} is a directory; nothing was written") from None
        raise
    fsync_dir(dest.parent)
