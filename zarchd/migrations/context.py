"""What a running migration step gets: the connection inside its transaction, a progress sink
and its deadline."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from zarchd.core.progress import Progress, no_progress


class DeadlinePassed(Exception):
    """Raised by Python-side loops past the deadline; the runner reports a MigrationTimeout."""


@dataclass
class StepContext:
    conn: sqlite3.Connection
    migration_id: str
    stage: str = "migrate"
    progress: Progress = no_progress
    deadline: float = float("inf")  # time.monotonic() value
    found_present: bool = False  # a built-in found its whole effect already there

    def check_deadline(self) -> None:
        if time.monotonic() > self.deadline:
            raise DeadlinePassed(self.migration_id)

    def report(self, **fields: Any) -> None:
        self.progress({"stage": self.stage, "migration": self.migration_id, **fields})
