"""Re-check a backup: sha256 against its sidecar and PRAGMA integrity_check; record the outcome."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from zarchd.backups import files
from zarchd.backups.meta import BackupInfo
from zarchd.backups.storage import BackupStore, LocalDirectory
from zarchd.core.clock import Clock, iso, utcnow
from zarchd.core.errors import RegistryError, UnsafePath
from zarchd.core.progress import Progress, Stage, no_progress
from zarchd.db.registry import check_file


def integrity_problems(info: BackupInfo, path: Path | None = None) -> list[str]:
    """[] when the backup file (at `path`, by default where it is listed) passes PRAGMA
    integrity_check, else one line naming it."""
    try:
        empty = files.not_a_database(path or info.path)
        if empty is not None:  # SQLite's check would pass it as an empty database
            return [f"{info.name}: not a backup: {empty}"]
        check = check_file(path or info.path, static=True)
    except (RegistryError, UnsafePath) as exc:  # unreadable: not usable as a backup either
        return [f"{info.name}: could not be checked: {exc.message}"]
    except OSError as exc:
        return [f"{info.name}: could not be checked: {exc.strerror or exc}"]
    if check != ["ok"]:
        return [f"{info.name}: integrity check failed: {'; '.join(check[:3])}"]
    return []


@dataclass
class VerifyResult:
    name: str
    ok: bool
    problems: list[str] = field(default_factory=list)


def verify_backup(
    info: BackupInfo,
    *,
    progress: Progress = no_progress,
    now: Clock = utcnow,
    store: BackupStore | None = None,
) -> VerifyResult:
    """ok when the file is intact. Updates verified/verified_at in the sidecar of our backups;
    a foreign backup (no sidecar) is only integrity-checked and never gets a sidecar.
    `store`: where `info` was listed (by default the local directory it is in)."""
    store = store or LocalDirectory(info.path.parent)
    problems: list[str] = []
    with store.open(info.name) as path:
        if not path.is_file():
            return VerifyResult(info.name, False, [f"{info.name}: the file is missing"])
        meta = store.read_sidecar(info.name) if info.ours else None
        if info.ours and meta is None:
            problems.append(f"{info.name}: its metadata file is missing or unreadable")
        if meta is not None:
            try:  # hash what we opened (O_NOFOLLOW, fstat): the listed file, not a swapped name
                digest, size = files.sha256_and_size(
                    path, expect=info.ident, of=info.name, progress=progress
                )
            except UnsafePath as exc:
                return _untrusted(info, exc.message)
            if meta.get("size_bytes") != size:
                problems.append(
                    f"{info.name}: size is {size} bytes, {meta.get('size_bytes')} recorded"
                )
            if digest != meta.get("sha256"):
                problems.append(f"{info.name}: sha256 does not match the one recorded at creation")
        with Stage(progress, "check", of=info.name):  # SQLite says nothing until it is done
            problems += integrity_problems(info, path)
    if info.ident is not None and not store.unchanged(info.name, info.ident):
        return _untrusted(info, f"{info.path} was replaced while it was checked")
    if meta is not None:
        meta.update(verified=not problems, verified_at=iso(now()))
        if problems:
            meta["problems"] = problems
        else:
            meta.pop("problems", None)
            meta["check"] = "integrity"  # it passed the full check now (a quick one at creation)
        with contextlib.suppress(OSError):  # a read-only backup dir: the check still counts
            store.update_sidecar(info.name, meta)
    return VerifyResult(info.name, not problems, problems)


def _untrusted(info: BackupInfo, why: str) -> VerifyResult:
    """A backup file that is not the one listed: never trusted, its sidecar left as it was."""
    return VerifyResult(info.name, False, [f"{info.name}: not trusted: {why}"])


def backup_problems(
    info: BackupInfo, progress: Progress, now: Clock, store: BackupStore | None = None
) -> list[str]:
    """[] when `info` can be put back: ours fully verified, a foreign one integrity-checked."""
    store = store or LocalDirectory(info.path.parent)
    if info.ours:
        return verify_backup(info, progress=progress, now=now, store=store).problems
    with store.open(info.name) as path, Stage(progress, "check", of=info.name):
        return integrity_problems(info, path)
