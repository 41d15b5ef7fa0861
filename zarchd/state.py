"""Daemon state that must survive restarts (last backup, last check, migrated app version, history).

One JSON file per registry in the user state dir, rewritten atomically; a damaged file is set
aside and replaced by an empty state rather than stopping the daemon.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

from .fsutil import atomic_write_text

log = logging.getLogger(__name__)
HISTORY_LIMIT = 50


class State:
    def __init__(self, directory: Path) -> None:
        self.path = directory / "state.json"
        self._lock = threading.Lock()
        self._data: dict[str, Any] = self._load()

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                return data
            raise ValueError("not an object")
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            aside = self.path.with_suffix(".json.bad")
            log.warning("state file %s is unreadable (%s); set aside as %s", self.path, exc, aside)
            try:
                self.path.replace(aside)
            except OSError:
                pass
            return {}

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return self._data.get(key, default)

    def update(self, **values: Any) -> None:
        with self._lock:
            self._data.update(values)
            self._save()

    def record_job(self, entry: dict[str, Any]) -> None:
        """Append to the job history (newest last, bounded)."""
        with self._lock:
            history = list(self._data.get("history", []))
            history.append(entry)
            self._data["history"] = history[-HISTORY_LIMIT:]
            self._save()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return json.loads(json.dumps(self._data))

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write_text(self.path, json.dumps(self._data, indent=2, sort_keys=True))
