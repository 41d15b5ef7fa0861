"""Local times with their offset in human output, whatever the machine's zone (issue 14, item 4)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from zarchd.cli import render, timefmt

NOW = datetime(2026, 11, 29, 9, 0, 0, tzinfo=UTC)
PLUS1 = timezone(timedelta(hours=1))


@pytest.fixture
def berlin_winter(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's zone set to UTC+1 (a POSIX TZ string: no tz database needed)."""
    monkeypatch.setenv("TZ", "CET-1")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_local_time_ago_until_when() -> None:
    assert timefmt.local_time("2026-11-29T06:12:03Z", PLUS1) == "2026-11-29 07:12:03 +0100"
    assert timefmt.local_time("2026-11-29T06:12:03.250000Z", UTC) == "2026-11-29 06:12:03 +0000"
    assert timefmt.local_time("in effect", PLUS1) == "in effect" and timefmt.local_time(None) == "?"
    assert timefmt.ago("2026-11-29T06:00:00Z", NOW) == "3h ago"
    assert timefmt.until("2026-11-29T09:40:00Z", NOW) == "in 40m"
    assert timefmt.until("2026-11-29T08:59:00Z", NOW) == "now"
    assert timefmt.when("2026-11-29T06:00:00Z", NOW, PLUS1) == "2026-11-29 07:00:00 +0100 (3h ago)"
    assert timefmt.when(None, NOW) == "never"


def test_human_output_is_local_time_with_offset(berlin_winter: None) -> None:
    backup = {
        "name": "registry-20261129-071203-zarchd.bak",
        "created_at": "2026-11-29T06:12:03.000001Z",
        "size_bytes": 4096,
        "verified": True,
        "schema_version": "0005",
    }
    text = render.backups({"dir": "/b", "backups": [backup], "ignored": []})  # type: ignore[typeddict-item]
    # the name's local time and the created column agree now (it said "created (UTC)" before)
    assert "2026-11-29 07:12:03 +0100" in text and "(UTC)" not in text
    entry = {"job": "backup", "ok": True, "at": "2026-11-29T06:12:03Z", "reason": "manual"}
    assert render.job_log({"entries": [entry], "kept": 100}).startswith("2026-11-29 07:12:03 +0100")


def test_prune_table_is_aligned_and_sums_up() -> None:
    decisions = [
        {
            "name": "registry-20261129-071203-zarchd.bak",
            "keep": False,
            "reasons": ["beyond every rule"],
            "created_at": "2026-11-29T06:12:03Z",
            "size_bytes": 3 * 1024 * 1024,
        },
        {
            "name": "registry-20261129-081203-1-zarchd.bak",
            "keep": True,
            "reasons": ["last 1"],
            "created_at": "2026-11-29T07:12:03Z",
            "size_bytes": 512,
        },
    ]
    result = {"dry_run": False, "decisions": decisions, "deleted": [], "kept": 1}
    lines = render.prune({**result, "freed_bytes": 3 * 1024 * 1024}).splitlines()  # type: ignore[typeddict-item]
    assert lines[0].split() == ["action", "name", "created", "size", "why"]
    assert lines[1].startswith("deleted registry-20261129-071203-zarchd.bak ")
    assert lines[2].startswith("keep    registry-20261129-081203-1-zarchd.bak ")
    # the reasons start, and the sizes end, at the same place on each row
    starts = {lines[0].index("why"), lines[1].index("beyond"), lines[2].index("last 1")}
    assert len(starts) == 1
    assert (
        lines[1].index("3.0 MiB") + 7 == lines[2].index("512 B") + 5 == lines[0].index("size") + 4
    )
    assert lines[-1] == "kept 1, deleted 1, space freed 3.0 MiB"
    dry = render.prune({**result, "dry_run": True, "freed_bytes": 3 * 1024 * 1024})  # type: ignore[typeddict-item]
    assert dry.splitlines()[-1] == "would keep 1, delete 1, free 3.0 MiB (dry run: nothing deleted)"


@pytest.mark.parametrize(
    "zone",
    [
        "CET-1CEST,M3.5.0,M10.5.0/3",  # Europe's DST rules
        "EST5EDT,M3.2.0,M11.1.0",  # North America's
        "<+0530>-5:30",  # a half-hour offset
        "<+001932>-0:19:32",  # an offset with seconds (as LMT offsets have)
        "UTC0",
    ],
)
def test_machine_wall_text_is_wall_text_of_astimezone(
    monkeypatch: pytest.MonkeyPatch, zone: str
) -> None:
    """The listing's local times through localtime's fields are astimezone()'s, to the byte:
    across both DST changes, in a second's fractions, before 1970 and at the ends of time."""
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        starts = (datetime(2026, 3, 28, 12, tzinfo=UTC), datetime(2026, 10, 24, 12, tzinfo=UTC))
        moments = [
            start + timedelta(minutes=7 * k, microseconds=(k * 104_729) % 1_000_000)
            for start in (*starts, datetime(2026, 11, 1, tzinfo=UTC))
            for k in range(3 * 24 * 60 // 7)
        ]
        moments += [
            datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC),  # a negative timestamp
            datetime(1900, 1, 1, tzinfo=UTC),
            datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC),  # a year of three digits
            datetime(9999, 12, 31, 12, tzinfo=UTC),
            datetime(2026, 11, 29, 7, 12, 3, 999_999, tzinfo=PLUS1),  # any aware time
        ]
        for moment in moments:
            assert timefmt.machine_wall_text(moment) == timefmt.wall_text(moment.astimezone())
    finally:
        monkeypatch.undo()
        time.tzset()
