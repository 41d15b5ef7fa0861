"""Progress reports from long work: plain dicts, so they travel over the socket unchanged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Progress = Callable[[dict[str, Any]], None]


def no_progress(event: dict[str, Any]) -> None:
    """The default sink: long work reports, nobody listens."""
