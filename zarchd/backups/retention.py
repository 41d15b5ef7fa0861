"""Which backups to keep: grandfather-father-son, as a pure function of (backups, policy, now, tz).

Semantics (restic's, not borg's):

- Every rule works on its own over the same list. `keep_last = N` keeps the N newest backups;
  `keep_hourly/daily/weekly/monthly/yearly = N` keeps the newest backup of each of the N most
  recent hours/days/ISO weeks/months/years *that have backups* (periods without a backup are
  skipped, they do not use up N).
- A backup kept by one rule ALSO counts for the other rules: if the newest backup of today is
  kept by keep_last, it is still "today's backup" for keep_daily and "this week's" for
  keep_weekly. So the kept set is exactly the union of what each rule selects, and a backup's
  reasons list every rule that selected it. (borg differs: there a backup taken by one rule is
  not available to the next.)
- Periods are local calendar periods in `tz` (the machine's time zone), weeks are ISO weeks
  (Monday first, week-numbering year). Hours are real hours: in the autumn DST change the
  repeated hour 02:00-03:00 is two periods, told apart by their UTC offset.
- The newest verified backup is always kept ("newest verified"), whatever the policy says.
- Backups that failed verification (`verified=False`) take part in no rule, so a broken backup
  never takes the slot of a good one, and they are never deleted automatically: one may be the
  last salvage material left (say the registry was emptied and only that empty state got
  backed up since). They are kept with the reason "failed verification: kept for inspection;
  delete it by hand" until a person deletes them (file and its `.json`).

Only backups zarchd made are given to `decide`; the caller keeps every other file untouched.
`now` is taken for future rules that measure age (keep_within); today no decision depends on it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

from zarchd.core.config import RetentionPolicy

NEWEST_VERIFIED = "newest verified"
NO_RULE = "no rule keeps it"
FAILED_KEPT = "failed verification: kept for inspection; delete it by hand"


# slots: built twice as fast (prune makes one of each per backup: 10,000, issue 16)
@dataclass(frozen=True, slots=True)
class Candidate:
    name: str
    created_at: datetime  # aware
    verified: bool
    # Tie-break for equal times, older first (a `-1` name suffix sorts before the plain name,
    # so the name itself cannot order backups taken within one second).
    order: int = 0


@dataclass(frozen=True, slots=True)
class Decision:
    name: str
    keep: bool
    reasons: list[str] = field(default_factory=list)


def _hour(t: datetime) -> str:
    if t.year < 1000:  # %Y's padding of such a year is the C library's: let strftime say
        offset = t.strftime("%z")
        return f"{t:%Y-%m-%d %H}:00{offset[:3]}:{offset[3:]}"
    # The same text without two strftime calls (the hourly rule looks at every backup until
    # it has its hours: 1,276 of 10,000 taken a minute apart): `%z`'s text made once per offset.
    offset_of = t.utcoffset()
    zone = _HOUR_ZONES.get(offset_of)
    if zone is None:
        offset = t.strftime("%z")
        zone = f"{offset[:3]}:{offset[3:]}"
        if len(_HOUR_ZONES) < 64:  # bounded, whatever times a directory holds
            _HOUR_ZONES[offset_of] = zone
    return "%d-%02d-%02d %02d:00%s" % (t.year, t.month, t.day, t.hour, zone)  # noqa: UP031


_HOUR_ZONES: dict[timedelta | None, str] = {}


def _week(t: datetime) -> str:
    year, week, _ = t.isocalendar()
    return f"{year}-W{week:02d}"


# rule name -> period key of a local time
PERIODS: dict[str, Callable[[datetime], str]] = {
    "keep_hourly": _hour,
    "keep_daily": lambda t: f"{t:%Y-%m-%d}",
    "keep_weekly": _week,
    "keep_monthly": lambda t: f"{t:%Y-%m}",
    "keep_yearly": lambda t: f"{t:%Y}",
}


# The rules whose period key (PERIODS) depends on nothing but the local date.
BY_DATE = frozenset({"keep_daily", "keep_weekly", "keep_monthly", "keep_yearly"})


def _newest_first(backups: Sequence[Candidate]) -> list[Candidate]:
    return sorted(backups, key=lambda b: (b.created_at, b.order, b.name), reverse=True)


def rule_selections(
    backups: Sequence[Candidate], policy: RetentionPolicy, tz: tzinfo
) -> dict[str, list[str]]:
    """name -> reasons, for the verified backups each rule selects (on its own)."""
    return _selections(_newest_first([b for b in backups if b.verified]), policy, tz)


def _selections(good: list[Candidate], policy: RetentionPolicy, tz: tzinfo) -> dict[str, list[str]]:
    """rule_selections of the verified backups `good`, already newest first."""
    reasons: dict[str, list[str]] = {}
    for i, b in enumerate(good[: max(policy.keep_last, 0)]):
        reasons.setdefault(b.name, []).append(f"keep_last #{i + 1}")
    local: list[datetime] = []  # good[i] in `tz`, made once for all rules (10,000: issue 16)
    day_starts: list[int] | None = None
    for rule, key_of in PERIODS.items():
        limit = getattr(policy, rule)
        seen: set[str] = set()
        # A rule that names a period by the local date alone looks only at the backups whose
        # date differs from the one before: any other has the key just met (already seen),
        # so it could neither add a period nor end the rule. 7 of 10,000 in a week of backups.
        indices: Sequence[int] = range(len(good))
        if rule in BY_DATE:
            if day_starts is None:
                day_starts = _day_starts(good, local, tz)
            indices = day_starts
        for i in indices:
            if len(seen) >= limit:
                break
            if i == len(local):
                local.append(good[i].created_at.astimezone(tz))
            key = key_of(local[i])
            if key not in seen:  # newest first: the first one met is the period's newest
                seen.add(key)
                reasons.setdefault(good[i].name, []).append(f"{rule} {key}")
    if good:
        reasons.setdefault(good[0].name, []).append(NEWEST_VERIFIED)
    return reasons


def _day_starts(good: list[Candidate], local: list[datetime], tz: tzinfo) -> list[int]:
    """The indices of `good` whose local date differs from the previous one's (0 first);
    `local` is completed on the way."""
    for b in good[len(local) :]:
        local.append(b.created_at.astimezone(tz))
    starts: list[int] = []
    previous: date | None = None
    for i, t in enumerate(local):
        day = t.date()
        if day != previous:
            starts.append(i)
            previous = day
    return starts


def decide(
    backups: Sequence[Candidate], policy: RetentionPolicy, now: datetime, tz: tzinfo
) -> list[Decision]:
    """One decision per backup, newest first, each with at least one reason."""
    ordered = _newest_first(backups)  # sorted once: the verified keep this order
    selected = _selections([b for b in ordered if b.verified], policy, tz)
    decisions = []
    for b in ordered:
        if b.name in selected:
            decisions.append(Decision(b.name, True, selected[b.name]))
        elif b.verified:
            decisions.append(Decision(b.name, False, [NO_RULE]))
        else:  # never deleted automatically, whatever newer backups exist
            decisions.append(Decision(b.name, True, [FAILED_KEPT]))
    return decisions
