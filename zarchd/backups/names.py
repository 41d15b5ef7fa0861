"""Backup file names: `<registry stem>-YYYYMMDD-HHMMSS-zarchd[-N].bak`, local time.

7zarch-go writes `registry-YYYYMMDD-HHMMSS.bak` in the registry's directory with O_TRUNC, so a
backup of ours under that name made in the same second would be overwritten. New backups carry
the `-zarchd` marker, a name 7zarch-go never produces; old-style names (no marker) that earlier
zarchd versions made are still recognised, listed, verified, pruned and restored.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from zarchd.core.errors import UsageError

SUFFIX = ".bak"
MARKER = "-zarchd"  # in every name zarchd gives a new backup: 7zarch-go never writes it
SIDECAR = ".json"  # metadata lives in `<name>.json`, which never matches the backup pattern


@dataclass(frozen=True, slots=True)  # slots: built twice as fast, one per name listed
class ParsedName:
    name: str
    local_time: datetime  # naive local wall time from the name
    seq: int  # 0 for the plain name, N for `-N`
    marked: bool = True  # False: an old-style name, the shape 7zarch-go writes too


@functools.lru_cache(maxsize=16)  # listing parses every name in the directory (10k+) with one stem
def pattern(stem: str) -> re.Pattern[str]:
    # One group per number and one for the marker: parse reads them without slicing.
    return re.compile(
        rf"{re.escape(stem)}-(\d{{4}})(\d\d)(\d\d)-(\d\d)(\d\d)(\d\d)({re.escape(MARKER)})?"
        rf"(?:-([1-9]\d{{0,5}}))?{re.escape(SUFFIX)}"
    )


def parse(stem: str, name: str) -> ParsedName | None:
    """The parts of a backup name, or None when `name` is not one (a real date is required)."""
    if not name.endswith(SUFFIX):  # most entries (sidecars, other files): no regex needed
        return None
    m = pattern(stem).fullmatch(name)
    parts = name_parts(m) if m else None
    return ParsedName(name, *parts) if parts else None


def name_parts(m: re.Match[str]) -> tuple[datetime, int, bool] | None:
    """The local time, `-N` sequence and marker of a name `pattern` matched; None when its
    date is no real one."""
    year, month, day, hour, minute, second, marker, seq = m.groups()
    if not "0001" < year < "9999":  # a day from datetime's ends: any zone's offset overflows it
        return None
    try:  # the digits are fixed-width (the pattern): datetime() checks the date, 20x strptime
        when = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError:
        return None
    return when, int(seq) if seq else 0, marker is not None


def stem_of(registry: Path) -> str:
    return registry.stem


def sidecar_path(backup: Path) -> Path:
    return backup.with_name(backup.name + SIDECAR)


def candidates(stem: str, local: datetime) -> Iterator[str]:
    """Names for a backup made at local time `local`: plain first, then -1, -2, ..."""
    base = f"{stem}-{local:%Y%m%d-%H%M%S}{MARKER}"
    yield base + SUFFIX
    for n in range(1, 1_000_000):
        yield f"{base}-{n}{SUFFIX}"


def check_plain_name(name: str) -> None:
    """Refuse anything that could point outside the backup directory before looking it up."""
    if (
        not name
        or "\x00" in name
        or "/" in name
        or os.sep in name
        or name in (".", "..")
        or (os.altsep and os.altsep in name)
    ):
        raise UsageError(f"{name!r} is not a backup name; use a name shown by `zarchctl backups`")


def local_tz() -> tzinfo:
    """The machine's time zone with its DST rules (TZ, else /etc/localtime, else a fixed offset)."""
    key = os.environ.get("TZ", "").lstrip(":")
    try:
        if key:
            return ZoneInfo(key)
        if Path("/etc/localtime").exists():
            with open("/etc/localtime", "rb") as fh:
                return ZoneInfo.from_file(fh, key="localtime")
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    return datetime.now(UTC).astimezone().tzinfo or UTC
