"""The clock is a parameter (`now=`), so retention, scheduling and catch-up are tested without sleeping."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """Aware UTC now; the default clock everywhere."""
    return datetime.now(timezone.utc)


def iso(moment: datetime | None) -> str | None:
    """UTC ISO-8601 text for JSON output and state files."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
