"""Daemon state that must survive restarts (last backup, last check, migrated app version, history).

One JSON file per registry in the user state dir. The daemon and `zarchctl --local` may both
record into it, so every update re-reads the file and merges under an flock instead of writing
back a stale in-memory copy. A damaged file is set aside and replaced by an empty state rather
than stopping the daemon.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from zarchd.core.errors import UnsafePath
from zarchd.core.fsutil import atomic_write_text, open_trusted

log = logging.getLogger(__name__)
HISTORY_LIMIT = 50
# The shape each known field must have; a field of another type (a hand-edited or damaged file)
# is dropped on read, as if it had never been recorded.
FIELD_TYPES: dict[str, type] = {
    "last_backup": dict,
    "last_check": dict,
    "last_error": dict,
    "last_resolved_error": dict,
    "history": list,
    "migrated_app_version": str,
}


class State:
    def __init__(self, directory: Path) -> None:
        self.path = directory / "state.json"
        self._lock = threading.Lock()
        # The last content read and the stats of the file it came from: `status` asks for a
        # field on every request (issue 16); the file is parsed again only once it changed.
        self._cached: tuple[tuple[int, int, int, int], dict[str, Any]] | None = None

    def get(self, key: str, default: Any = None) -> Any:
        return copy.deepcopy(self._read_cached().get(key, default))

    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy(self._read_cached())

    def _read_cached(self) -> dict[str, Any]:
        """The content, re-read only when the file's inode, size, mtime or ctime moved (every
        write replaces it: a new inode). Callers get copies; the cached dict is never handed out."""
        try:
            st = os.stat(self.path)
        except OSError:
            self._cached = None
            return self._read()
        key = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        cached = self._cached
        if cached is not None and cached[0] == key:
            return cached[1]
        data = self._read()
        self._cached = (key, data)  # a change between stat and read only costs a re-read
        return data

    def update(self, **values: Any) -> None:
        self._change(lambda data: data.update(values))

    def record_job(self, entry: dict[str, Any]) -> None:
        """Append to the job history (newest last, bounded)."""

        def append(data: dict[str, Any]) -> None:
            data["history"] = [*data.get("history", []), entry][-HISTORY_LIMIT:]

        self._change(append)

    def _change(self, mutate: Callable[[dict[str, Any]], None]) -> None:
        """Best effort: state is bookkeeping, so failing to write it must never fail (or undo
        the report of) the backup or migration it describes. The failure is logged."""
        try:
            with self._locked():
                data = self._read()
                mutate(data)
                atomic_write_text(self.path, json.dumps(data, indent=2, sort_keys=True))
        except OSError as exc:
            log.error(
                "cannot write zarchd's state file %s (%s); check the permissions of the "
                "state directory",
                self.path,
                exc.strerror or exc,
            )

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._lock:
            try:  # never through a planted symlink or another user's file
                fd = open_trusted(
                    self.path.with_suffix(".lock"),
                    os.O_RDWR | os.O_CREAT,
                    "zarchd's state lock",
                    single_link=True,
                )
            except UnsafePath as exc:
                raise OSError(exc.message) from None  # logged by _change; state is best effort
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)

    def _read(self) -> dict[str, Any]:
        try:
            fd = open_trusted(self.path, os.O_RDONLY, "zarchd's state file")
        except UnsafePath as exc:
            log.warning("%s; ignoring it", exc.message)
            return {}
        except FileNotFoundError:
            return {}
        except OSError as exc:
            log.warning("cannot read the state file %s (%s)", self.path, exc.strerror or exc)
            return {}
        try:
            with os.fdopen(fd, "rb") as fh:
                data = json.loads(fh.read().decode("utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except FileNotFoundError:
            return {}
        except OSError as exc:  # EMFILE, EACCES...: the content may be fine, leave it be
            log.warning("cannot read the state file %s (%s)", self.path, exc.strerror or exc)
            return {}
        except ValueError as exc:  # includes UnicodeDecodeError: the content is damaged
            aside = self.path.with_suffix(".json.bad")
            log.warning("state file %s is unreadable (%s); set aside as %s", self.path, exc, aside)
            with contextlib.suppress(OSError):
                self.path.replace(aside)
            return {}
        for key, kind in FIELD_TYPES.items():
            if key in data and data[key] is not None and not isinstance(data[key], kind):
                log.warning("state file %s: ignoring %s of the wrong type", self.path, key)
                del data[key]
        return data
