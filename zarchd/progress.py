"""Progress reports from long work: plain dicts, so they travel over the socket unchanged."""

from __future__ import annotations

from typing import Any, Callable

Progress = Callable[[dict[str, Any]], None]


def no_progress(event: dict[str, Any]) -> None:
    """The default sink: long work reports, nobody listens."""
