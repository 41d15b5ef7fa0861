"""The text of a large listing, made faster (issue 16), is the text it was: times formatted
without strftime, and backups/prune escaping only the values they print."""

from __future__ import annotations

import gc
import random
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from zarchd.cli import ctl_entry, render, timefmt
from zarchd.core.clock import iso
from zarchd.core.textsafe import escape_all

ZONES: list[tzinfo] = [
    UTC,
    timezone(timedelta(hours=5, minutes=45)),
    timezone(-timedelta(hours=3, minutes=30, seconds=7)),  # a zone's offset in seconds: %z's
    ZoneInfo("Europe/Berlin"),
    ZoneInfo("Australia/Lord_Howe"),  # a 30-minute DST shift
]


def _moments() -> list[datetime]:
    """Random instants over the whole datetime range (fixed seed), and the edges."""
    rng = random.Random(16)
    low = datetime(1, 1, 3, tzinfo=UTC)  # past year 1 in every zone above
    span = (datetime(9999, 12, 29, tzinfo=UTC) - low).total_seconds()
    moments = [low + timedelta(seconds=rng.uniform(0, span)) for _ in range(2000)]
    moments += [
        datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
    ]
    return moments


def test_local_wall_text_is_what_strftime_writes() -> None:
    for moment in _moments():
        for zone in [*ZONES, None]:
            local = moment.astimezone(zone)
            assert timefmt.wall_text(local) == local.strftime("%Y-%m-%d %H:%M:%S %z")


def test_iso_is_isoformat_to_the_second() -> None:
    for moment in _moments():
        for zone in ZONES:
            shown = moment.astimezone(zone)
            expected = shown.astimezone(UTC).isoformat(timespec="seconds")
            assert iso(shown) == expected.replace("+00:00", "Z")
    assert iso(datetime(5, 1, 2, 3, 4, 5, 678, tzinfo=UTC)) == "0005-01-02T03:04:05Z"


HOSTILE = ["a\x1b[2Jb", "x\ny", "\u202eevil", "\x7f", "\udc80", 7, None, True, ["l\x07"]]


def _results(rng: random.Random) -> tuple[dict[str, object], dict[str, object]]:
    def value() -> object:
        return rng.choice([*HOSTILE, "plain", "2026-11-21T10:39:09Z", 0, 69632])

    def text() -> str | None:  # a column's width is measured: text (or nothing) only
        return rng.choice(["a\x1b[2Jb", "x\ny", "\u202eevil", "\udc80", "plain", "", None])

    backups = [
        {
            "name": rng.choice(["r-1.bak", "n\x1bame.bak", "\u202eb.bak\n"]),
            "created_at": value(),
            "size_bytes": rng.choice([0, 1, 69632, 10**12]),
            "verified": rng.choice([True, False, None]),
            "untrusted": rng.choice([False, True, "x\x1b"]),
            "schema_version": text(),
            "check": text(),
        }
        for _ in range(rng.randrange(1, 5))
    ]
    ignored = [{"name": value(), "reason": value()}]
    decisions = [
        {
            "name": rng.choice(["a.bak", "b\x1b.bak"]),
            "keep": rng.choice([True, False]),
            "reasons": rng.choice([["keep_last #1"], ["r\n2", "\x7f"], []]),
            "created_at": rng.choice(["2026-11-21T10:39:09Z", "bad\x1b", ""]),
            "size_bytes": rng.choice([1, 123456789]),
        }
        for _ in range(rng.randrange(1, 5))
    ]
    prune = {"dry_run": rng.choice([True, False]), "decisions": decisions, "kept": value()}
    return {"dir": value(), "backups": backups, "ignored": ignored}, prune


def test_backups_and_prune_escape_every_value_they_print() -> None:
    """render() no longer escapes these results first: the text is the one the renderers make
    of an escaped result, and no control character of a value reaches the terminal."""
    rng = random.Random(3)
    for _ in range(300):
        for command, result in zip(("backups", "prune"), _results(rng), strict=True):
            text = render.render(command, result)
            renderer = render.backups if command == "backups" else render.prune
            assert text == renderer(escape_all(result))  # type: ignore[arg-type]
            assert "\x1b" not in text and "\x7f" not in text and "\u202e" not in text
            assert "\udc80" not in text and "\x07" not in text
            assert all(line.isprintable() for line in text.split("\n"))


def test_the_fast_entry_collects_garbage_rarely() -> None:
    before = gc.get_threshold()
    try:
        ctl_entry.few_collections()
        assert gc.get_threshold()[0] >= 10_000  # not every 700 allocations
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
