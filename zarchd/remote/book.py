"""The upload queue and each remote's status, kept in the state dir (`remote.json`).

It survives restarts, sleep and time offline: every verified local backup is queued for every
remote and stays queued until a complete copy is on that remote. Only the daemon (which holds the
registry's writer lock) writes it; every change is one atomic replace. The file is read only
through open_trusted (never a symlink, never another user's file): a planted queue file would
otherwise choose which local files get sent off the machine, so each entry's path is also held
to the backup directory and a backup name of this registry (`UploadBook.entries`).
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from zarchd.backups import names
from zarchd.core.clock import iso, parse_iso
from zarchd.core.errors import UnsafePath
from zarchd.core.fsutil import atomic_write_text, open_trusted

log = logging.getLogger(__name__)
FILE = "remote.json"
BACKOFF_BASE_S = 30.0
BACKOFF_CAP_S = 6 * 3600.0
MAX_QUEUE_FILE = 4 << 20


@dataclass
class Entry:
    remote: str
    name: str
    sha256: str
    queued_at: str
    attempts: int = 0
    next_at: str | None = None  # None: due now
    last_error: str = ""
    kind: str = ""  # the last failure's RemoteError.kind


def backoff(attempts: int, rand: Callable[[], float]) -> float:
    """Seconds before retry `attempts` (1, 2, ...): doubling from 30 s up to 6 h, with jitter
    (x0.5 .. x1.5) so many machines behind one outage do not all come back at once."""
    base = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1))
    return float(min(BACKOFF_CAP_S, base * (0.5 + rand())))


class UploadBook:
    """Queue entries (remote, backup name) and per-remote status fields, in one JSON file."""

    def __init__(
        self, state_dir: Path, backup_dir: Path, stem: str, rand: Callable[[], float] | None = None
    ) -> None:
        self.path = state_dir / FILE
        self.backup_dir = backup_dir
        self.stem = stem
        self.rand = rand or random.random
        self._lock = threading.Lock()

    # ---- file -----------------------------------------------------------------------------

    def _read(self) -> dict[str, Any]:
        try:
            fd = open_trusted(self.path, os.O_RDONLY, "zarchd's upload queue")
        except FileNotFoundError:
            return {}
        except (UnsafePath, OSError) as exc:
            log.warning("%s; ignoring it", getattr(exc, "message", exc))
            return {}
        try:
            with os.fdopen(fd, "rb") as fh:
                data = json.loads(fh.read(MAX_QUEUE_FILE).decode("utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("upload queue %s is unreadable (%s): starting empty", self.path, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, Any]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            atomic_write_text(self.path, json.dumps(data, indent=1, sort_keys=True))
        except OSError as exc:
            log.error("cannot write the upload queue %s (%s)", self.path, exc.strerror or exc)

    def _valid(self, raw: object) -> Entry | None:
        if not isinstance(raw, dict):
            return None
        try:
            entry = Entry(**{k: raw[k] for k in Entry.__dataclass_fields__ if k in raw})
        except TypeError:
            return None
        if names.parse(self.stem, entry.name) is None or "/" in entry.name:
            return None  # only a backup of this registry, in the backup directory, is sent
        return entry

    # ---- queue ----------------------------------------------------------------------------

    def entries(self, remote: str | None = None) -> list[Entry]:
        with self._lock:
            raw = self._read().get("queue", [])
        found = [e for e in (self._valid(r) for r in raw if isinstance(raw, list)) if e]
        return [e for e in found if remote is None or e.remote == remote]

    def local_path(self, entry: Entry) -> Path:
        return self.backup_dir / entry.name

    def add(self, remotes: list[str], name: str, sha256: str, now: datetime) -> None:
        with self._lock:
            data = self._read()
            queue = [e for e in data.get("queue", []) if self._valid(e)]
            have = {(e["remote"], e["name"]) for e in queue}
            for remote in remotes:
                if (remote, name) not in have:
                    queue.append(asdict(Entry(remote, name, sha256, iso(now) or "")))
            data["queue"] = queue
            self._write(data)

    def due(self, remote: str, now: datetime) -> Entry | None:
        """The oldest entry for `remote` whose retry time has come."""
        for entry in self.entries(remote):
            when = parse_iso(entry.next_at)
            if when is None or when <= now:
                return entry
        return None

    def next_due(self, remote: str) -> datetime | None:
        times = [parse_iso(e.next_at) for e in self.entries(remote)]
        return min((t for t in times if t is not None), default=None)

    def remove(self, remote: str, name: str) -> None:
        with self._lock:
            data = self._read()
            data["queue"] = [
                e
                for e in data.get("queue", [])
                if isinstance(e, dict) and (e.get("remote"), e.get("name")) != (remote, name)
            ]
            self._write(data)

    def failed(self, entry: Entry, error: str, kind: str, now: datetime) -> datetime:
        """Count a failed attempt; returns when the next one (of any entry for this remote) is
        due: backoff with jitter, or the cap for a fatal error (shown as such meanwhile)."""
        attempts = entry.attempts + 1
        delay = BACKOFF_CAP_S if kind in ("fatal", "missing") else backoff(attempts, self.rand)
        when = now + timedelta(seconds=delay)
        with self._lock:
            data = self._read()
            for e in data.get("queue", []):
                if not isinstance(e, dict) or e.get("remote") != entry.remote:
                    continue
                # the remote is what failed, not this one file: every entry waits as long
                e["next_at"] = iso(when)
                if e.get("name") == entry.name:
                    e.update(attempts=attempts, last_error=error, kind=kind)
            self._write(data)
        return when

    def retry_now(self, remote: str) -> None:
        """Make every entry of `remote` due (the remote came back, or a reload)."""
        with self._lock:
            data = self._read()
            for e in data.get("queue", []):
                if isinstance(e, dict) and e.get("remote") == remote:
                    e["next_at"] = None
            self._write(data)

    # ---- per-remote status ----------------------------------------------------------------

    def status(self, remote: str) -> dict[str, Any]:
        with self._lock:
            raw = self._read().get("remotes", {})
        value = raw.get(remote, {}) if isinstance(raw, dict) else {}
        return value if isinstance(value, dict) else {}

    def set_status(self, remote: str, **values: Any) -> None:
        with self._lock:
            data = self._read()
            remotes = data.get("remotes")
            if not isinstance(remotes, dict):
                remotes = data["remotes"] = {}
            current = remotes.get(remote)
            if not isinstance(current, dict):
                current = remotes[remote] = {}
            current.update(values)
            self._write(data)
