"""Times as 7zarch-go stores them (go-sqlite3's text layouts), read without ever rewriting them."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

MAX_MS = (1 << 48) - 1  # the time part of a ULID
_GO_TIME = re.compile(
    r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d+))?\s*(Z|[+-]\d{2}:?\d{2})?"
    r"(?:\s+[A-Z]{1,5})?"
)  # Go's String() layout ends in a zone name: "+0000 UTC"


def parse_us(value: object) -> int | None:
    """Unix microseconds of a time as go-sqlite3 reads it (text in its layouts, a naive one
    meaning UTC; numbers are Unix seconds), or None when it does not parse."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # a REAL may hold inf or NaN: that is no time (int() of it raises inside SQL)
        return int(value * 1_000_000) if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    m = _GO_TIME.fullmatch(value.strip())
    if not m:
        return None
    fraction = (m[3] or "")[:6].ljust(6, "0")
    zone = m[4] or "+00:00"
    zone = "+00:00" if zone == "Z" else zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
    try:
        when = datetime.fromisoformat(f"{m[1]}T{m[2]}.{fraction}{zone}")
    except ValueError:
        return None
    delta = when - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def created_ms(value: object) -> int | None:
    """Unix milliseconds of a `created` value (see parse_us), None when it does not parse or
    does not fit a ULID's 48-bit time."""
    us = parse_us(value)
    if us is None:
        return None
    ms = us // 1000
    return ms if 0 <= ms <= MAX_MS else None
