"""The clock is a parameter (`now=`): retention, scheduling, catch-up are tested without sleep."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """Aware UTC now; the default clock everywhere."""
    return datetime.now(UTC)


def iso(moment: datetime | None, *, precise: bool = False) -> str | None:
    """UTC ISO-8601 text for JSON output and state files; `precise` keeps the microseconds
    (backup metadata: several backups can fall in one second and must still be ordered)."""
    if moment is None:
        return None
    utc = moment.astimezone(UTC)
    if precise:
        return utc.isoformat(timespec="microseconds").replace("+00:00", "Z")
    # What isoformat(timespec="seconds") gives, in a third of its time: a listing of 10,000
    # backups formats one per backup (issue 16).
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (  # noqa: UP031 (twice as fast as an f-string)
        utc.year,
        utc.month,
        utc.day,
        utc.hour,
        utc.minute,
        utc.second,
    )


def parse_iso(text: object) -> datetime | None:
    """An aware datetime from our ISO text; None for anything else (absent, damaged, naive)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
