"""retention.decide: restic-style grandfather-father-son, as properties over generated backups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from zarchd.backups import retention
from zarchd.backups.retention import PERIODS, Candidate, decide
from zarchd.core.config import RetentionPolicy

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2027, 6, 1, tzinfo=UTC)
UTC = UTC


def _c(name: str, when: datetime, verified: bool = True) -> Candidate:
    return Candidate(name, when, verified)


# Times cluster around DST changes and year ends so periods collide there.
_ANCHORS = [
    datetime(2025, 3, 30, 1, tzinfo=UTC),
    datetime(2025, 10, 26, 0, tzinfo=UTC),
    datetime(2025, 3, 9, 7, tzinfo=UTC),
    datetime(2025, 11, 2, 5, tzinfo=UTC),
    datetime(2025, 12, 31, 22, tzinfo=UTC),
    datetime(2026, 12, 31, 23, tzinfo=UTC),
    datetime(2026, 12, 28, 0, tzinfo=UTC),
]
times = st.one_of(
    st.builds(
        lambda a, s: a + timedelta(seconds=s),
        st.sampled_from(_ANCHORS),
        st.integers(-3 * 86400, 3 * 86400),
    ),
    st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2027, 5, 30), timezones=st.just(UTC)
    ),
)
backup_lists = st.lists(st.tuples(times, st.booleans() | st.just(True)), max_size=60).map(
    lambda items: [_c(f"b{i:03d}", t, v) for i, (t, v) in enumerate(items)]
)
policies = st.builds(RetentionPolicy, *(st.integers(0, 6) for _ in range(6)))
zones = st.sampled_from([BERLIN, NEW_YORK, UTC])


def _reference(
    backups: list[Candidate], policy: RetentionPolicy, tz: tzinfo
) -> dict[str, set[str]]:
    """Each rule's selection, computed another way: group, take each group's max, newest groups."""
    good = [b for b in backups if b.verified]
    key = lambda b: (b.created_at, b.name)  # noqa: E731
    out = {"keep_last": {b.name for b in sorted(good, key=key)[::-1][: policy.keep_last]}}
    for rule, period in PERIODS.items():
        groups: dict[str, Candidate] = {}
        for b in good:
            k = period(b.created_at.astimezone(tz))
            if k not in groups or key(b) > key(groups[k]):
                groups[k] = b
        newest = sorted(groups.values(), key=key)[::-1][: getattr(policy, rule)]
        out[rule] = {b.name for b in newest}
    return out


@settings(max_examples=400, deadline=None)
@given(backup_lists, policies, zones)
def test_decisions_are_the_union_of_independent_rules(
    backups: list[Candidate], policy: RetentionPolicy, tz: tzinfo
) -> None:
    decisions = decide(backups, policy, NOW, tz)
    assert sorted(d.name for d in decisions) == sorted(b.name for b in backups)
    assert all(d.reasons for d in decisions)
    kept = {d.name for d in decisions if d.keep}
    by_name = {b.name: b for b in backups}
    ref = _reference(backups, policy, tz)
    good = sorted((b for b in backups if b.verified), key=lambda b: (b.created_at, b.name))
    newest_verified = {good[-1].name} if good else set()
    selected = set().union(*ref.values()) | newest_verified
    # unverified backups are never deleted automatically (they take no rule slot either)
    failed_kept = {b.name for b in backups if not b.verified}
    assert kept == selected | failed_kept
    for d in decisions:  # the reasons name exactly the rules that selected the backup
        rules = {r.split(" ")[0] for r in d.reasons if r.startswith("keep_")}
        assert rules == {rule for rule, names in ref.items() if d.name in names}
    for rule in ref:  # never more than N per rule
        assert sum(
            r.startswith(rule + " ") or r.startswith(rule + " #")
            for d in decisions
            for r in d.reasons
        ) <= getattr(policy, rule)
    assert newest_verified <= kept
    assert {n for n in ref["keep_last"]} == {b.name for b in good[::-1][: policy.keep_last]}
    # idempotent: pruning the kept set again keeps all of it
    again = decide([by_name[n] for n in kept], policy, NOW, tz)
    assert all(d.keep for d in again)


@settings(max_examples=50, deadline=None)
@given(st.lists(times, min_size=1, max_size=2000, unique=True), zones)
def test_thousands_of_backups_keep_bounded_and_newest(stamps: list[datetime], tz: tzinfo) -> None:
    backups = [_c(f"n{i:05d}", t) for i, t in enumerate(stamps)]
    policy = RetentionPolicy(
        keep_last=3, keep_hourly=5, keep_daily=4, keep_weekly=3, keep_monthly=2, keep_yearly=2
    )
    decisions = decide(backups, policy, NOW, tz)
    kept = [d for d in decisions if d.keep]
    assert len(decisions) == len(backups)
    assert len(kept) <= 3 + 5 + 4 + 3 + 2 + 2
    newest = max(backups, key=lambda b: (b.created_at, b.name))
    assert decisions[0].name == newest.name and "newest verified" in decisions[0].reasons


def test_reasons_and_iso_weeks_across_the_year_end() -> None:
    thu = datetime(2026, 12, 31, 12, tzinfo=UTC)  # ISO 2026-W53 ...
    fri = datetime(2027, 1, 1, 12, tzinfo=UTC)  # ... the same ISO week, another year
    older = datetime(2026, 12, 20, 12, tzinfo=UTC)
    policy = RetentionPolicy(
        keep_last=1, keep_hourly=0, keep_daily=0, keep_weekly=2, keep_monthly=0, keep_yearly=0
    )
    got = {
        d.name: d
        for d in decide([_c("thu", thu), _c("fri", fri), _c("old", older)], policy, NOW, UTC)
    }
    assert got["fri"].reasons == ["keep_last #1", "keep_weekly 2026-W53", "newest verified"]
    assert not got["thu"].keep and got["thu"].reasons == ["no rule keeps it"]
    assert got["old"].reasons == ["keep_weekly 2026-W51"]


def test_repeated_autumn_hour_is_two_hours() -> None:
    first = datetime(2025, 10, 26, 0, 30, tzinfo=UTC)  # 02:30 CEST in Berlin
    second = datetime(2025, 10, 26, 1, 30, tzinfo=UTC)  # 02:30 CET, one real hour later
    policy = RetentionPolicy(0, 2, 0, 0, 0, 0)
    got = decide([_c("a", first), _c("b", second)], policy, NOW, BERLIN)
    assert all(d.keep for d in got)
    assert {r for d in got for r in d.reasons if r.startswith("keep_hourly")} == {
        "keep_hourly 2025-10-26 02:00+02:00",
        "keep_hourly 2025-10-26 02:00+01:00",
    }


def test_local_days_differ_from_utc_days() -> None:
    late = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)  # already 2 March in Berlin
    early = datetime(2026, 3, 1, 22, 30, tzinfo=UTC)  # still 1 March in Berlin (23:30)
    policy = RetentionPolicy(0, 0, 5, 0, 0, 0)
    assert all(d.keep for d in decide([_c("a", late), _c("b", early)], policy, NOW, BERLIN))
    utc = decide([_c("a", late), _c("b", early)], policy, NOW, UTC)
    assert [d.keep for d in utc] == [True, False]


def test_failed_backups_take_no_slot_and_are_never_deleted_automatically() -> None:
    t0 = datetime(2026, 5, 1, tzinfo=UTC)
    backups = [
        _c("good-old", t0),
        _c("bad-mid", t0 + timedelta(days=1), False),
        _c("good-new", t0 + timedelta(days=2)),
        _c("bad-newest", t0 + timedelta(days=3), False),
    ]
    got = {d.name: d for d in decide(backups, RetentionPolicy(2, 0, 0, 0, 0, 0), NOW, UTC)}
    assert got["good-old"].reasons == ["keep_last #2"]  # the bad one did not take its place
    assert got["good-new"].reasons == ["keep_last #1", "newest verified"]
    for bad in ("bad-mid", "bad-newest"):  # older than a verified one or not: both stay
        assert got[bad].keep and got[bad].reasons == [
            "failed verification: kept for inspection; delete it by hand"
        ]


def test_zero_policy_keeps_only_the_newest_verified() -> None:
    t0 = datetime(2026, 5, 1, tzinfo=UTC)
    got = decide(
        [_c(str(i), t0 + timedelta(hours=i)) for i in range(5)],
        RetentionPolicy(0, 0, 0, 0, 0, 0),
        NOW,
        UTC,
    )
    assert [(d.name, d.keep) for d in got] == [("4", True)] + [
        (str(i), False) for i in (3, 2, 1, 0)
    ]


def test_five_thousand_backups_over_two_years_in_every_zone() -> None:
    start = datetime(2024, 12, 1, tzinfo=UTC)
    backups = [
        _c(f"s{i:05d}", start + timedelta(minutes=197 * i), i % 97 != 5) for i in range(5000)
    ]
    policy = RetentionPolicy()
    for tz in (BERLIN, NEW_YORK, UTC):
        decisions = decide(backups, policy, NOW, tz)
        kept = {d.name for d in decisions if d.keep}
        ref = _reference(backups, policy, tz)
        failed = {b.name for b in backups if not b.verified}
        assert len(failed) == 52 and failed <= kept  # never deleted automatically
        assert kept == set().union(*ref.values()) | failed  # the newest is verified, in keep_last
        assert len(ref["keep_monthly"]) == 12 and len(ref["keep_yearly"]) == 2
        by_name = {b.name: b for b in backups}
        assert all(d.keep for d in decide([by_name[n] for n in kept], policy, NOW, tz))


def test_ties_in_time_are_broken_by_listing_order_not_by_name() -> None:
    from datetime import datetime

    from zarchd.backups.retention import Candidate, decide
    from zarchd.core.config import RetentionPolicy

    at = datetime(2026, 11, 24, 15, 27, 59, tzinfo=UTC)
    # taken in this order within one second: plain, -1, -2 ("-2" sorts before the plain name)
    backups = [
        Candidate("r-20261124-152759.bak", at, True, order=0),
        Candidate("r-20261124-152759-1.bak", at, True, order=1),
        Candidate("r-20261124-152759-2.bak", at, True, order=2),
    ]
    policy = RetentionPolicy(
        keep_last=1, keep_hourly=0, keep_daily=0, keep_weekly=0, keep_monthly=0, keep_yearly=0
    )
    kept = [d.name for d in decide(backups, policy, at, UTC) if d.keep]
    assert kept == ["r-20261124-152759-2.bak"]


def test_an_hours_key_is_strftimes_text_in_every_zone() -> None:
    """_hour makes the hourly key without strftime: the same text as strftime's, across DST
    changes, odd offsets (LMT, half and quarter hours), 3-digit years and year 9999."""

    def by_strftime(t: datetime) -> str:
        offset = t.strftime("%z")
        return f"{t:%Y-%m-%d %H}:00{offset[:3]}:{offset[3:]}"

    zones: list[tzinfo] = [UTC, timezone(timedelta(seconds=1172))]
    zones += [ZoneInfo(z) for z in ("Europe/Berlin", "America/St_Johns", "Asia/Kathmandu")]
    zones.append(ZoneInfo("Europe/Amsterdam"))  # +00:19:32 before 1937
    starts = [datetime(2026, 3, 29, tzinfo=UTC), datetime(2026, 10, 25, tzinfo=UTC)]
    starts += [datetime(y, 1, 1, tzinfo=UTC) for y in (999, 1900, 1937)]
    starts.append(datetime(9999, 12, 29, tzinfo=UTC))
    for zone in zones:
        for start in starts:
            for k in range(0, 48 * 60, 37):
                t = (start + timedelta(minutes=k)).astimezone(zone)
                assert retention._hour(t) == by_strftime(t)
