"""Regression (issue 9, defect 14c): a sidecar's created_at was not checked against the backup's
name, so a planted backup with a future-dated sidecar became "latest" and recover's first choice."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from zarchd.backups import latest_backup, list_backups, recover_registry, take_backup
from zarchd.backups.namecheck import created_at_matches_name

from .conftest import FixedClock, corrupt, make_registry

BERLIN = ZoneInfo("Europe/Berlin")


def _plant(real: Path, name: str, created_at: str) -> Path:
    """A copy of a real backup under `name`, with the real sidecar edited: name and time."""
    fake = real.with_name(name)
    shutil.copyfile(real, fake)
    meta = json.loads(real.with_name(real.name + ".json").read_text())
    meta.update(name=name, created_at=created_at)
    meta.pop("utc_offset_s", None)
    fake.with_name(name + ".json").write_text(json.dumps(meta))
    return fake


def test_future_dated_sidecar_is_untrusted_never_latest_nor_recovered(
    tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    reg = make_registry(tmp_path / "registry.db", 500)
    bdir = tmp_path / "b"
    good = take_backup(reg, bdir, now=clock)
    # Named a minute after the real one (a plausible name), created_at in 2099.
    name_time = clock().astimezone(BERLIN) + timedelta(minutes=1)
    planted = _plant(
        good.path, f"registry-{name_time:%Y%m%d-%H%M%S}.bak", "2099-01-01T00:00:00.000000Z"
    )
    listed = {b.name: b for b in list_backups(reg, bdir)}
    assert listed[planted.name].untrusted and not listed[planted.name].ours
    assert listed[planted.name].to_json()["untrusted"] is True
    assert listed[good.name].ours and not listed[good.name].untrusted
    latest = latest_backup(reg, bdir)
    assert latest is not None and latest.name == good.name
    corrupt(reg)
    result = recover_registry(reg, bdir, now=clock)
    assert result["restored"] == good.name
    assert [s["name"] for s in result["skipped"]] == [planted.name]


def test_a_time_zone_change_keeps_zarchd_backups_trusted(
    tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    reg = make_registry(tmp_path / "registry.db", 50)
    made = take_backup(reg, tmp_path / "b", now=clock)
    monkeypatch.setenv("TZ", "America/New_York")  # the laptop travelled
    (info,) = list_backups(reg, tmp_path / "b")
    assert info.name == made.name and info.ours and not info.untrusted


@pytest.mark.parametrize(
    "created, name, ok",
    [
        # the name's second, with or without microseconds
        ("2026-03-14T11:00:00Z", "2026-03-14 12:00:00", True),
        ("2026-03-14T11:00:00.999999Z", "2026-03-14 12:00:00", True),
        ("2026-03-14T11:00:01Z", "2026-03-14 12:00:00", False),
        ("2026-03-14T10:59:59.9Z", "2026-03-14 12:00:00", False),
        ("2099-01-01T00:00:00Z", "2026-03-14 12:00:00", False),
        # autumn DST fold in Berlin: 02:30 local happens at 00:30Z and again at 01:30Z
        ("2026-10-25T00:30:00Z", "2026-10-25 02:30:00", True),
        ("2026-10-25T01:30:00Z", "2026-10-25 02:30:00", True),
        # spring gap: 02:30 local never happens; 01:30Z is 03:30 CEST
        ("2026-03-29T01:30:00Z", "2026-03-29 03:30:00", True),
        ("2026-03-29T01:30:00Z", "2026-03-29 02:30:00", False),
    ],
)
def test_created_at_must_fall_in_the_named_second(created: str, name: str, ok: bool) -> None:
    moment = datetime.fromisoformat(created.replace("Z", "+00:00"))
    assert created_at_matches_name(moment, datetime.fromisoformat(name), BERLIN) is ok


def test_a_recorded_offset_is_honoured_and_a_silly_one_ignored() -> None:
    moment = datetime(2026, 3, 14, 11, 0, tzinfo=UTC)
    named_in_tokyo = datetime(2026, 3, 14, 20, 0)
    assert created_at_matches_name(moment, named_in_tokyo, BERLIN, 9 * 3600)
    assert not created_at_matches_name(moment, named_in_tokyo, BERLIN, None)
    assert not created_at_matches_name(moment, named_in_tokyo, BERLIN, 99 * 3600)
    assert not created_at_matches_name(moment, named_in_tokyo, BERLIN, "32400")
