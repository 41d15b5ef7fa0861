"""What listing learnt from each sidecar, kept so the next listing need not read 10,000 files.

Listing 10,000 backups read every sidecar (open, fstat, read, parse, check): most of a
`zarchctl backups` or `prune --dry-run` (issue 16), and disk reads when the page cache is cold.
The index keeps, per sidecar name, the stats of the file it was read from and its checked
content. It is never trusted over the files:
- an entry is used only while the sidecar's lstat (still a regular file of ours, looked at on
  every listing) has the same inode, size, mtime and ctime as when it was read: any write or
  replacement moves the ctime, which no user can set back;
- the content was checked by the same rules as meta.read_sidecar when it was read (ours, for
  exactly this name) before it went into the index;
- it keeps only the fields listing reads (FIELDS), one compact record per sidecar: 5.4 MB of
  JSON for 10,000 backups took 0.07 s to load; a sidecar read from the index gives those
  fields (absent ones as None, the same to `.get`), never the rest;
- the index file lives in zarchd's private state dir, is read only as a regular file of ours
  (never through a symlink), is written atomically, and anything odd in it (another format,
  another directory, damage) just means an empty index: the sidecars are read again.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from zarchd.core.errors import UnsafePath
from zarchd.core.fsutil import atomic_write_text, open_trusted

log = logging.getLogger(__name__)

FORMAT = "zarchd-sidecar-index/2"  # /1 kept whole sidecars: read as no index (rebuilt)
MAX_INDEX = 256 * 1024 * 1024  # ~250 bytes an entry: far more backups than anyone keeps
# What listing (listing.py, replaced.py, meta.ours_info) reads of a sidecar, in record order.
FIELDS = (
    "created_at",
    "utc_offset_s",
    "verified",
    "sha256",
    "schema_version",
    "fingerprint",
    "check",
    "size_bytes",
)
_RECORD = 4 + len(FIELDS)  # inode, size, mtime, ctime, then FIELDS

_Key = tuple[int, int, int, int]


def key_of(st: os.stat_result) -> _Key:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class SidecarIndex:
    """The index of one backup directory, stored at `path`."""

    def __init__(self, path: Path, directory: Path) -> None:
        self.path = path
        self.directory = str(directory)
        self._entries: dict[str, tuple[_Key, dict[str, Any]]] | None = None
        self._changed = False
        self._seen: set[str] = set()
        self._lock = threading.Lock()  # the daemon's jobs and its status refresher both list

    def lookup(self, name: str, st: os.stat_result) -> dict[str, Any] | None:
        """The checked content of sidecar `name` when `st` is the file it was read from."""
        with self._lock:
            self._seen.add(name)
            found = (self._entries if self._entries is not None else self._load()).get(name)
        if found is None:
            return None
        # key_of(st) compared field by field: no tuple built per listed backup (issue 16)
        key = found[0]
        if (
            key[0] != st.st_ino
            or key[1] != st.st_size
            or key[2] != st.st_mtime_ns
            or key[3] != st.st_ctime_ns
        ):
            return None
        return found[1]

    def remember(self, name: str, st: os.stat_result, meta: dict[str, Any]) -> None:
        slim = {field: meta.get(field) for field in FIELDS}
        with self._lock:
            self._load()[name] = (key_of(st), slim)
            self._seen.add(name)
            self._changed = True

    def save(self) -> None:
        """Write the index when a listing changed it (dropping sidecars no longer seen).
        Best effort: the index only saves time, so failing to write it is only logged."""
        with self._lock:
            entries = self._load()
            gone = [name for name in entries if name not in self._seen]
            for name in gone:
                del entries[name]
            self._seen = set()
            if not (self._changed or gone):
                return
            self._changed = False
            body = {
                "format": FORMAT,
                "dir": self.directory,
                "entries": {
                    name: [*key, *(meta.get(field) for field in FIELDS)]
                    for name, (key, meta) in entries.items()
                },
            }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            atomic_write_text(self.path, json.dumps(body, separators=(",", ":")))
        except OSError as exc:
            log.debug("cannot write the sidecar index %s: %s", self.path, exc)

    def _load(self) -> dict[str, tuple[_Key, dict[str, Any]]]:
        if self._entries is None:
            self._entries = self._read()
        return self._entries

    def _read(self) -> dict[str, tuple[_Key, dict[str, Any]]]:
        try:
            fd = open_trusted(self.path, os.O_RDONLY, "the sidecar index")
        except (OSError, UnsafePath):  # absent, planted: start afresh (rewritten on save)
            return {}
        try:
            with os.fdopen(fd, "rb") as fh:
                raw = fh.read(MAX_INDEX + 1)
            data = json.loads(raw) if len(raw) <= MAX_INDEX else None
        except (OSError, ValueError):
            return {}
        if (
            not isinstance(data, dict)
            or data.get("format") != FORMAT
            or data.get("dir") != self.directory
            or not isinstance(data.get("entries"), dict)
        ):
            return {}
        entries: dict[str, tuple[_Key, dict[str, Any]]] = {}
        for name, item in data["entries"].items():
            if (
                type(item) is list
                and len(item) == _RECORD
                and type(item[0]) is int
                and type(item[1]) is int
                and type(item[2]) is int
                and type(item[3]) is int
            ):
                entries[name] = (
                    (item[0], item[1], item[2], item[3]),
                    dict(zip(FIELDS, item[4:], strict=True)),
                )
        return entries
