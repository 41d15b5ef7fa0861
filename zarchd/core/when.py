"""A moment a person types (`restore --before`): ISO 8601, or how long ago (`2h`, `3d ago`).

A time without an offset is local time, as a person means it; `tz` is a parameter so tests
never depend on the machine's zone. The answer is always aware.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo

_AGO = re.compile(r"^(\d+)\s*(s|m|h|d|w)(?:\s+ago)?$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
FORMS = (
    "an ISO 8601 time like 2026-11-29T07:00, '2026-11-29 07:00:00+01:00' or 2026-11-29 "
    "(local time when it has no offset), or how long ago: 30m, 2h, 3d, 1w"
)


def parse_moment(text: str, now: datetime, tz: tzinfo | None = None) -> datetime:
    """The aware moment `text` names (`now` for the relative forms). ValueError otherwise."""
    cleaned = text.strip()
    match = _AGO.match(cleaned.lower())
    if match:
        return now - timedelta(seconds=int(match[1]) * _UNIT[match[2]])
    try:
        moment = datetime.fromisoformat(cleaned.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(FORMS) from None
    if moment.tzinfo is None:  # local time: the zone given, else the machine's
        moment = moment.replace(tzinfo=tz) if tz is not None else moment.astimezone()
    return moment
