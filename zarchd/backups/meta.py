"""BackupInfo and the sidecar metadata (`<backup name>.json`) that marks a backup as zarchd's."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from zarchd.backups.names import sidecar_path
from zarchd.core.clock import iso, parse_iso
from zarchd.core.errors import UnsafePath
from zarchd.core.fsutil import atomic_write_text, open_trusted

FORMAT = "zarchd-backup/1"  # marks a sidecar as ours; a foreign .json never makes a file deletable


# slots: a frozen dataclass with slots is built twice as fast (one per listed backup, issue 16);
# its own __init__ below halves that again.
@dataclass(frozen=True, slots=True, init=False)
class BackupInfo:
    name: str
    path: Path
    created_at: datetime  # aware UTC
    size_bytes: int
    verified: bool | None  # None: not made by zarchd (no metadata)
    sha256: str | None
    schema_version: str | None
    fingerprint: str | None
    ours: bool
    ident: tuple[int, int] | None = None  # (st_dev, st_ino) when listed: what verify must open
    # A zarchd sidecar whose created_at disagrees with the name: listed, never deleted, never
    # "latest", never restored by recover.
    untrusted: bool = False
    # Which check its content got: "quick" (quick_check at creation) or "integrity" (the full
    # integrity_check, at creation or by `verify`); None when not ours. Sidecars from before
    # the field always had the full check.
    check: str | None = None

    def __init__(
        self,
        name: str,
        path: Path,
        created_at: datetime,
        size_bytes: int,
        verified: bool | None,
        sha256: str | None,
        schema_version: str | None,
        fingerprint: str | None,
        ours: bool,
        ident: tuple[int, int] | None = None,
        untrusted: bool = False,
        check: str | None = None,
    ) -> None:
        # What the frozen dataclass's own __init__ does, one object.__setattr__ per field
        # (1.5 us), by each slot's own setter (0.7 us): 10,000 listed backups (issue 16).
        # Still frozen: only this sets them (tests/backups/test_local_listing.py).
        s = _SETTERS
        s[0](self, name)
        s[1](self, path)
        s[2](self, created_at)
        s[3](self, size_bytes)
        s[4](self, verified)
        s[5](self, sha256)
        s[6](self, schema_version)
        s[7](self, fingerprint)
        s[8](self, ours)
        s[9](self, ident)
        s[10](self, untrusted)
        s[11](self, check)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "created_at": iso(self.created_at),
            "size_bytes": self.size_bytes,
            "verified": self.verified,
            "schema_version": self.schema_version,
            "sha256": self.sha256,
            "ours": self.ours,
            "untrusted": self.untrusted,
            "check": self.check,
        }


# The setter of each of BackupInfo's slots, in its fields' order (its __init__ uses them).
_SETTERS: tuple[Callable[[BackupInfo, Any], None], ...] = tuple(
    getattr(BackupInfo, f.name).__set__ for f in fields(BackupInfo)
)
assert len(_SETTERS) == 12  # BackupInfo.__init__ sets exactly these


def write_sidecar(backup: Path, meta: dict[str, Any]) -> Path:
    path = sidecar_path(backup)
    atomic_write_text(path, json.dumps({"format": FORMAT, **meta}, indent=2, sort_keys=True) + "\n")
    return path


MAX_SIDECAR = 64 * 1024


def read_sidecar(backup: Path) -> dict[str, Any] | None:
    """The sidecar's content if it is a zarchd sidecar for exactly this backup name, else None."""
    try:
        # never through a symlink, never another user's file: a planted sidecar makes nothing ours
        fd = open_trusted(sidecar_path(backup), os.O_RDONLY, "the backup metadata")
    except (OSError, UnsafePath):
        return None
    try:
        with os.fdopen(fd, "rb") as fh:
            raw = fh.read(MAX_SIDECAR + 1)
    except OSError:
        return None
    return sidecar_content(raw, backup.name)


def sidecar_content(raw: bytes, name: str) -> dict[str, Any] | None:
    """The sidecar read as `raw` if it is a zarchd sidecar for exactly the backup `name`."""
    if len(raw) > MAX_SIDECAR:  # ours are < 1 KiB; a huge one is not ours to parse
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("name") != name:
        return None
    if parse_iso(data.get("created_at")) is None:
        # a hand-edited time (not text, no time zone) makes it not ours: listed, never deleted
        return None
    return data


def info_from(
    backup: Path,
    meta: dict[str, Any] | None,
    fallback_created: datetime,
    size: int,
    ident: tuple[int, int] | None = None,
) -> BackupInfo:
    if meta is None:
        return BackupInfo(
            backup.name, backup, fallback_created, size, None, None, None, None, False, ident
        )
    return ours_info(
        backup, meta, parse_iso(meta.get("created_at")) or fallback_created, size, ident
    )


def ours_info(
    backup: Path,
    meta: dict[str, Any],
    created: datetime,
    size: int,
    ident: tuple[int, int] | None = None,
    name: str | None = None,
) -> BackupInfo:
    """Our backup with its sidecar `meta`, whose created_at the caller has already parsed (and
    checked): listing 10,000 backups parsed each twice (issue 16). `name`: backup.name, when
    the caller has it (pathlib works it out again)."""
    return ours_from_fields(
        backup,
        backup.name if name is None else name,
        created,
        size,
        ident,
        *(meta.get(field) for field in BACKUP_FIELDS),
    )


# The sidecar's fields ours_from_fields takes, in its order (the sidecar index keeps them so).
BACKUP_FIELDS = ("verified", "sha256", "schema_version", "fingerprint", "check")


def ours_from_fields(
    backup: Path,
    name: str,
    created: datetime,
    size: int,
    ident: tuple[int, int] | None,
    verified: object,
    sha256: Any,
    schema_version: Any,
    fingerprint: Any,
    check: object,
) -> BackupInfo:
    """ours_info of the sidecar fields BACKUP_FIELDS as values: a listing that reads them from
    the sidecar index's record makes no dict of them (backups/listing.py)."""
    return BackupInfo(
        name,
        backup,
        created,
        size,
        verified is True,
        sha256,
        schema_version,
        fingerprint,
        True,
        ident,
        False,
        check if check in ("quick", "integrity") else "integrity",  # check_of, inline
    )


def check_of(meta: dict[str, Any]) -> str:
    """The check a backup's content got, from its sidecar (old sidecars: the full check)."""
    check = meta.get("check")
    return check if check in ("quick", "integrity") else "integrity"
