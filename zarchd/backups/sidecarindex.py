"""What listing learnt from each sidecar, kept so the next listing need not read 10,000 files.

Listing 10,000 backups read every sidecar (open, fstat, read, parse, check): most of a
`zarchctl backups` or `prune --dry-run` (issue 16), and disk reads when the page cache is cold.
The index keeps, per sidecar name, the stats of the file it was read from and its checked
content. It is never trusted over the files:
- an entry is used only while the sidecar's lstat (still a regular file of ours, looked at on
  every listing) has the same inode, size, mtime and ctime as when it was read: any write or
  replacement moves the ctime, which no user can set back; a sidecar changed within the last
  3 s is not remembered at all (a file system with 1 s times could show a rewrite in the same
  second, at the same size and reused inode, with the same stats);
- the content was checked by the same rules as meta.read_sidecar when it was read (ours, for
  exactly this name) before it went into the index;
- it keeps only the fields listing reads (FIELDS), one compact record per sidecar: 5.4 MB of
  JSON for 10,000 backups took 0.07 s to load; a sidecar read from the index gives those
  fields (absent ones as None, the same to `.get`), never the rest. A record is one flat JSON
  list, the stats and then those fields in FIELDS' order, which the json module builds in C:
  loading is json.loads alone (13 ms for 10,000; 21 ms with the fields as an object, whose
  keys it parsed again in every record), each record checked when it is used;
- a record may also say that its sidecar's created_at agrees with the backup's name in the
  UTC offset the sidecar recorded (a fact of the name and that content alone, true in any
  time zone): listing then skips reading the name's time and comparing, ~2 us of each
  backup. It is asked only after the stats matched, and any rewrite drops it (remember());
- the index file lives in zarchd's private state dir, is read only as a regular file of ours
  (never through a symlink), is written atomically, and anything odd in it (another format,
  another directory, damage) just means an empty index: the sidecars are read again.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from zarchd.core.errors import UnsafePath
from zarchd.core.fsutil import atomic_write_text, open_trusted

log = logging.getLogger(__name__)

# /1 kept whole sidecars, /2 the fields as a list (a Python loop to load), /3 the fields as
# an object (keys parsed in every record): read as no index.
FORMAT = "zarchd-sidecar-index/4"
MAX_INDEX = 256 * 1024 * 1024  # ~250 bytes an entry: far more backups than anyone keeps
# A sidecar changed less than this long ago is read again next time, not remembered (remember()).
SETTLED_NS = 3_000_000_000
now_ns = time.time_ns  # the clock it is measured by (a test sets it forward)
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
_Key = tuple[int, int, int, int]
# A record as stored and loaded: [inode, size, mtime, ctime, *(value of each of FIELDS)], and
# True last once a listing found its created_at to agree with the name (agreed()).
_Record = list[Any]
STATS = 4  # where the fields begin in a record
SIZE = STATS + len(FIELDS)  # a record's length (one more with the agreement)
# Each field's place in a record, for a listing that reads them there (listing._list_local).
AT = {field: STATS + i for i, field in enumerate(FIELDS)}


def key_of(st: os.stat_result) -> _Key:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class SidecarIndex:
    """The index of one backup directory, stored at `path`."""

    def __init__(self, path: Path, directory: Path) -> None:
        self.path = path
        self.directory = str(directory)
        self._entries: dict[str, _Record] | None = None
        self._changed = False
        self._seen: set[str] = set()
        self._lock = threading.Lock()  # the daemon's jobs and its status refresher both list

    def lookup(self, name: str, st: os.stat_result) -> dict[str, Any] | None:
        """The checked content of sidecar `name` when `st` is the file it was read from."""
        with self._lock:
            self._seen.add(name)
            found = (self._entries if self._entries is not None else self._load()).get(name)
        if found is None or not fresh(found, st):
            return None
        return dict(zip(FIELDS, found[STATS:SIZE], strict=True))

    def records(self) -> dict[str, Any]:
        """Every record by sidecar name, for a listing that checks each one with fresh(),
        reads its fields at AT and says which it used with saw(): one call for 10,000 backups
        instead of a lookup each."""
        with self._lock:
            return self._load()

    def agrees(self, name: str, record: list[Any]) -> None:
        """Remember that the sidecar `record` describes has a created_at that agrees with its
        backup's name in the UTC offset it recorded (namecheck.in_recorded_offset): true as
        long as the sidecar is unchanged, which fresh() checks before agreed() is asked."""
        with self._lock:
            self._load()[name] = [*record[:SIZE], True]  # replaced whole, as remember() does
            self._changed = True

    def saw(self, seen: list[str]) -> None:
        """The sidecars a listing found the records of (the rest are dropped on save)."""
        with self._lock:
            self._seen.update(seen)

    def remember(self, name: str, st: os.stat_result, meta: dict[str, Any]) -> None:
        if now_ns() - st.st_ctime_ns < SETTLED_NS:
            # Written just now: on a file system with coarse times (1 s on ext3, HFS+, some
            # NFS) a rewrite in the same tick, at the same size, on the reused inode would
            # match this record. Remembered once it has settled (git's "racy" rule).
            return
        record = [*key_of(st), *(meta.get(field) for field in FIELDS)]
        with self._lock:
            self._load()[name] = record
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
            # A copy taken under the lock: another listing may add records while this one
            # is written (records are replaced whole, never changed in place).
            body = {"format": FORMAT, "dir": self.directory, "entries": dict(entries)}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            atomic_write_text(self.path, json.dumps(body, separators=(",", ":")))
        except OSError as exc:
            log.debug("cannot write the sidecar index %s: %s", self.path, exc)

    def _load(self) -> dict[str, _Record]:
        if self._entries is None:
            self._entries = self._read()
        return self._entries

    def _read(self) -> dict[str, _Record]:
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
        entries: dict[str, _Record] = data["entries"]  # each record checked by lookup
        return entries


def fresh(found: object, st: os.stat_result) -> bool:
    """The record `found` is one of the file with the lstat `st` (a sidecar unchanged since
    it was read) and of the right shape: its fields may be used."""
    # The record's shape is checked here, not at load (one Python loop fewer over 10,000),
    # and its stats field by field against `st` (key_of, without a tuple per backup).
    return (
        type(found) is list
        and (len(found) == SIZE or (len(found) == SIZE + 1 and found[SIZE] is True))
        and type(found[0]) is int
        and type(found[1]) is int
        and type(found[2]) is int
        and type(found[3]) is int
        and found[0] == st.st_ino
        and found[1] == st.st_size
        and found[2] == st.st_mtime_ns
        and found[3] == st.st_ctime_ns
    )


def agreed(found: object) -> bool:
    """The record `found` says its sidecar's created_at agrees with the backup's name (see
    SidecarIndex.agrees); only worth asking of a record fresh() accepts."""
    return type(found) is list and len(found) == SIZE + 1 and found[SIZE] is True
