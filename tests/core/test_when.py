"""restore --before TIME: the forms a person types (issue 14, item 3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from zarchd.core.when import parse_moment

NOW = datetime(2026, 11, 29, 9, 0, 0, tzinfo=UTC)
PLUS1 = timezone(timedelta(hours=1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-29T07:00:00+01:00", datetime(2026, 11, 29, 6, 0, tzinfo=UTC)),
        ("2026-11-29T06:00:00Z", datetime(2026, 11, 29, 6, 0, tzinfo=UTC)),
        ("2026-11-29 07:00", datetime(2026, 11, 29, 6, 0, tzinfo=UTC)),  # local: +01:00 here
        ("2026-11-29", datetime(2026, 11, 28, 23, 0, tzinfo=UTC)),
        ("2h", NOW - timedelta(hours=2)),
        ("3d ago", NOW - timedelta(days=3)),
        (" 30m ", NOW - timedelta(minutes=30)),
        ("1w", NOW - timedelta(weeks=1)),
    ],
)
def test_forms(text: str, expected: datetime) -> None:
    assert parse_moment(text, NOW, PLUS1) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2h later", "-2h", "2026-13-01", "1.5h"])
def test_nonsense_is_refused_with_the_forms(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_moment(text, NOW, PLUS1)
