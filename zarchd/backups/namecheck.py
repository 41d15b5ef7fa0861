"""Does a sidecar's `created_at` agree with the time in its backup's name?

zarchd names a backup from the moment it started (local wall time, to the second) and records that
same moment, in UTC, as `created_at`. A sidecar whose time disagrees with its name was not written
by zarchd for that file (e.g. a planted, future-dated one meant to become "latest"): such a backup
is not trusted. The check takes the name's local time, not the name, so it holds for any naming
scheme that carries one.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo

MAX_OFFSET_S = 18 * 3600  # the widest UTC offset a time zone can have
_NONE = timedelta(0)
_SECOND = timedelta(seconds=1)
# A fixed zone per recorded offset (a machine has a few): listing 10,000 backups checks each.
_ZONES: dict[int, timezone] = {}


def created_at_matches_name(
    created_at: datetime, name_local: datetime, tz: tzinfo, recorded_offset_s: object = None
) -> bool:
    """True when `created_at` (aware) falls within the second named by `name_local` (naive wall
    time), read either in the UTC offset recorded when the name was made (survives a change of
    the machine's time zone) or in `tz`, the zone now (sidecars without a recorded offset).
    UTC to wall time is never ambiguous, so DST folds and gaps need no special case."""
    if in_recorded_offset(created_at, name_local, recorded_offset_s):
        return True
    wall = created_at.astimezone(tz).replace(tzinfo=None)
    return _NONE <= wall - name_local < _SECOND


def in_recorded_offset(
    created_at: datetime, name_local: datetime, recorded_offset_s: object
) -> bool:
    """True when `created_at` falls within the second named by `name_local` read in the UTC
    offset the sidecar recorded: an answer that holds in any time zone, so a listing may
    remember it (backups/sidecarindex.py)."""
    if (
        not isinstance(recorded_offset_s, int)
        or isinstance(recorded_offset_s, bool)
        or abs(recorded_offset_s) > MAX_OFFSET_S
    ):
        return False
    zone = _ZONES.get(recorded_offset_s)
    if zone is None:
        zone = _ZONES[recorded_offset_s] = timezone(timedelta(seconds=recorded_offset_s))
    # The name's second read in the recorded offset is an instant; the difference of aware
    # times is exact and never overflows.
    return _NONE <= created_at - name_local.replace(tzinfo=zone) < _SECOND
