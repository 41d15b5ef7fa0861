"""Times as a person reads them: local time with its offset, and how long ago.

JSON keeps the one machine form (ISO 8601 in UTC with `Z`, core.clock.iso); only the human
output is local. `tz` is a parameter so tests never depend on the machine's zone.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, tzinfo

from zarchd.core.clock import parse_iso


def local_time(stamp: object, tz: tzinfo | None = None) -> str:
    """`2026-11-29 07:12:03 +0100` for an ISO stamp; text that is no time is shown as it is."""
    moment = parse_iso(stamp)
    if moment is None:
        return str(stamp) if stamp else "?"
    return wall_text(moment.astimezone(tz))


_FORMAT = "%Y-%m-%d %H:%M:%S %z"
# The `%z` text of each UTC offset met (a zone has a handful): made once, not per backup.
_ZONE_TEXT: dict[timedelta | None, str] = {}


def wall_text(local: datetime) -> str:
    """`local.strftime(_FORMAT)` without strftime for the date and time, a third of its cost:
    a listing of 10,000 backups shows one per backup (issue 16). `%z` depends on the offset
    alone, so its text is looked up."""
    if local.year < 1000:  # %Y's padding of such a year is the C library's: let it say
        return local.strftime(_FORMAT)
    offset = local.utcoffset()
    zone = _ZONE_TEXT.get(offset)
    if zone is None:
        zone = local.strftime("%z")
        if len(_ZONE_TEXT) < 64:  # bounded, whatever times a directory holds
            _ZONE_TEXT[offset] = zone
    return "%d-%02d-%02d %02d:%02d:%02d %s" % (  # noqa: UP031 (twice as fast as an f-string)
        local.year,
        local.month,
        local.day,
        local.hour,
        local.minute,
        local.second,
        zone,
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


def machine_wall_text(moment: datetime) -> str:
    """`wall_text(moment.astimezone())` (`moment` aware): the machine's local time of it, in
    two thirds of the time. astimezone() asks the C library's localtime for the offset and
    builds a time zone object and a datetime around it; here localtime's own fields are the
    text (the same C call, the same zone), for each of 10,000 listed backups (issue 16)."""
    try:
        tm = time.localtime((moment - _EPOCH) // _SECOND)  # the second it falls in, exactly
    except (OverflowError, OSError, ValueError):
        return wall_text(moment.astimezone())  # let it say what it says of such a time
    if tm.tm_year < 1000:  # %Y's padding of such a year is the C library's: wall_text's way
        return wall_text(moment.astimezone())
    offset = tm.tm_gmtoff
    zone = _GMTOFF_TEXT.get(offset)
    if zone is None:
        zone = moment.astimezone().strftime("%z")
        if len(_GMTOFF_TEXT) < 64:  # bounded, whatever times a directory holds
            _GMTOFF_TEXT[offset] = zone
    return "%d-%02d-%02d %02d:%02d:%02d %s" % (*tm[:6], zone)  # noqa: UP031 (as wall_text)


# The `%z` text of each offset in seconds east of UTC that localtime gave.
_GMTOFF_TEXT: dict[int, str] = {}


def ago(stamp: str | None, now: datetime | None = None) -> str:
    """`3h ago` (the largest whole unit), `never` without a time."""
    moment = parse_iso(stamp)
    if moment is None:
        return "never"
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    if seconds < 0:
        return "in the future (clock skew?)"
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= length:
            return f"{int(seconds // length)}{unit} ago"
    return f"{int(seconds)}s ago"


def until(stamp: str | None, now: datetime | None = None) -> str:
    """`in 40m` for a planned time; `now` once it is due."""
    moment = parse_iso(stamp)
    if moment is None:
        return "?"
    seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= length:
            return f"in {int(seconds // length)}{unit}"
    return "now"


def when(stamp: str | None, now: datetime | None = None, tz: tzinfo | None = None) -> str:
    """`2026-11-29 07:12:03 +0100 (3h ago)`: the moment, and how long ago it was."""
    if parse_iso(stamp) is None:
        return stamp or "never"
    return f"{local_time(stamp, tz)} ({ago(stamp, now)})"
