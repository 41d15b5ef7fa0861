"""A local directory is listed in one pass (listing._list_local): it must answer exactly as the
general path over store.scan does, for every kind of file a backup directory can hold."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.backups.conftest import FixedClock, make_registry
from zarchd.backups import list_backups, take_backup
from zarchd.backups.meta import BackupInfo
from zarchd.backups.names import sidecar_path
from zarchd.backups.sidecarindex import AT, SIZE
from zarchd.backups.storage import LocalDirectory

NOBODY = 65534


class ThroughScan(LocalDirectory):
    """The same directory, listed the general way (store.scan, then one backup at a time)."""


@pytest.fixture(autouse=True)
def settled_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests list sidecars they just wrote and look at the index: count them as settled
    (the rule itself: test_sidecar_index.test_a_sidecar_written_just_now_is_not_remembered)."""
    from zarchd.backups import sidecarindex

    monkeypatch.setattr(sidecarindex, "SETTLED_NS", 0)


def _listing(registry: Path, store: LocalDirectory) -> tuple[list[dict[str, Any]], list[Any]]:
    ignored: list[dict[str, str]] = []
    items = list_backups(registry, store, ignored)
    return [{**b.to_json(), "ident": b.ident, "fp": b.fingerprint} for b in items], ignored


def _copy_as(real: Path, name: str, **changes: object) -> Path:
    """A copy of a real backup under `name`, with its sidecar edited (name and `changes`)."""
    fake = real.with_name(name)
    if not fake.exists():
        shutil.copyfile(real, fake)
    meta = json.loads(sidecar_path(real).read_text())
    meta.update(name=name, **changes)
    meta = {k: v for k, v in meta.items() if v is not None}
    sidecar_path(fake).write_text(json.dumps(meta))
    return fake


def _directory_of_everything(tmp_path: Path, clock: FixedClock) -> tuple[Path, Path]:
    registry = make_registry(tmp_path / "reg" / "registry.db", rows=20)
    bdir = tmp_path / "bak"
    real = take_backup(registry, bdir, now=clock).path
    stamp = real.name.split("-zarchd")[0]  # registry-YYYYMMDD-HHMMSS
    meta = json.loads(sidecar_path(real).read_text())
    # a hard link with its own sidecar (identical backups), and a -N name of the same second
    os.link(real, bdir / f"{stamp}-zarchd-1.bak")
    _copy_as(real, f"{stamp}-zarchd-1.bak")
    _copy_as(real, f"{stamp}-zarchd-2.bak", verified=False, check="quick")
    # an old-style name of ours (no marker), and one 7zarch-go has overwritten since
    _copy_as(real, f"{stamp}.bak")
    replaced = _copy_as(real, "registry-20200101-000000.bak", created_at="2020-01-01T00:00:00Z")
    replaced.write_bytes(real.read_bytes() + b"\0" * 4096)
    # 7zarch-go's own backup (no sidecar); a sidecar whose time disagrees with its name
    shutil.copyfile(real, bdir / "registry-20200102-000000.bak")
    _copy_as(real, "registry-20200103-000000-zarchd.bak")
    # no recorded offset: the name is read in the machine's zone
    _copy_as(real, "registry-20200104-000000-zarchd.bak", utc_offset_s=None)
    # a symlink and a directory under backup names, a name that is no date
    (bdir / "registry-20200105-000000-zarchd.bak").symlink_to(real)
    (bdir / "registry-20200106-000000-zarchd.bak").mkdir()
    _copy_as(real, "registry-20201340-000000-zarchd.bak")
    # another user's backup; our backup whose sidecar is a symlink, or another user's file
    theirs = _copy_as(real, "registry-20200107-000000-zarchd.bak", created_at=None)
    os.chown(theirs, NOBODY, NOBODY)
    linked = _copy_as(real, "registry-20200108-000000-zarchd.bak")
    sidecar_path(linked).unlink()
    sidecar_path(linked).symlink_to(sidecar_path(real))
    foreign = _copy_as(real, "registry-20200109-000000-zarchd.bak")
    os.chown(sidecar_path(foreign), NOBODY, NOBODY)
    # a sidecar that is no JSON, one of another backup's name
    sidecar_path(_copy_as(real, "registry-20200110-000000-zarchd.bak")).write_text("{")
    _copy_as(real, "registry-20200111-000000-zarchd.bak")
    sidecar_path(bdir / "registry-20200111-000000-zarchd.bak").write_text(
        json.dumps({**meta, "name": real.name})
    )
    return registry, bdir


@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin"])
def test_one_pass_lists_what_the_general_path_lists(
    tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, tz: str
) -> None:
    monkeypatch.setenv("TZ", tz)
    registry, bdir = _directory_of_everything(tmp_path, clock)
    index = tmp_path / "state" / "sidecar-index.json"
    general = _listing(registry, ThroughScan(bdir))
    assert len(general[0]) == 12 and len(general[1]) == 1  # the directory holds what it says
    assert {b["ours"] for b in general[0]} == {True, False}
    assert any(b["untrusted"] for b in general[0])
    assert _listing(registry, LocalDirectory(bdir)) == general  # no index: every sidecar read
    assert _listing(registry, LocalDirectory(bdir, index)) == general  # read, and remembered
    assert json.loads(index.read_text())["entries"]  # so the next listing has records to use
    assert _listing(registry, LocalDirectory(bdir, index)) == general  # from the records
    # ... which now also say whose created_at agrees with the name in its recorded offset
    # (never for a time the machine's zone decided, nor for one that disagrees)
    records = json.loads(index.read_text())["entries"]
    agreeing = {name for name, record in records.items() if len(record) == SIZE + 1}
    assert "registry-20200104-000000-zarchd.bak" in records  # no recorded offset
    assert "registry-20200103-000000-zarchd.bak" in records  # a time not of its name
    # the real ones under marked names (an old-style name is always checked: 7zarch-go may
    # have overwritten it)
    assert agreeing == {n for n in records if n[9:13] == "2026" and "-zarchd" in n}
    assert _listing(registry, LocalDirectory(bdir, index)) == general  # with that said
    assert _listing(registry, ThroughScan(bdir, index)) == general


def test_a_record_is_used_only_for_its_own_unchanged_sidecar(
    tmp_path: Path, clock: FixedClock
) -> None:
    registry, bdir = _directory_of_everything(tmp_path, clock)
    index = tmp_path / "state" / "sidecar-index.json"
    _listing(registry, LocalDirectory(bdir, index))
    saved = json.loads(index.read_text())
    # Every record says "not verified" now; only the sidecars left unchanged may answer so.
    for record in saved["entries"].values():
        record[AT["verified"]] = False
    index.write_text(json.dumps(saved))
    (first, *_) = sorted(bdir.glob("registry-2026*-zarchd.bak"))  # the real backup
    side = sidecar_path(first)
    side.write_text(side.read_text())  # rewritten in place: its ctime moves
    listed = {b["name"]: b for b in _listing(registry, LocalDirectory(bdir, index))[0]}
    assert listed[first.name]["verified"] is True  # read from the file again
    assert [b["verified"] for n, b in listed.items() if n != first.name and b["ours"]] == [
        False
    ] * (sum(1 for b in listed.values() if b["ours"]) - 1)


def test_a_remembered_agreement_ends_with_the_sidecar_it_was_made_of(
    tmp_path: Path, clock: FixedClock
) -> None:
    """Regression: the index remembers that a sidecar's created_at agrees with its backup's name;
    a sidecar rewritten since (a future-dated one planted by its owner) is checked afresh."""
    registry = make_registry(tmp_path / "reg" / "registry.db", rows=20)
    bdir = tmp_path / "bak"
    real = take_backup(registry, bdir, now=clock).path
    index = tmp_path / "state" / "sidecar-index.json"
    for _ in range(2):  # read, then found to agree (and remembered)
        assert [b["untrusted"] for b in _listing(registry, LocalDirectory(bdir, index))[0]] == [
            False
        ]
    assert len(json.loads(index.read_text())["entries"][real.name]) == SIZE + 1
    meta = json.loads(sidecar_path(real).read_text())
    sidecar_path(real).write_text(json.dumps({**meta, "created_at": "2099-01-01T00:00:00Z"}))
    (listed,) = _listing(registry, LocalDirectory(bdir, index))[0]
    assert listed["untrusted"] and not listed["ours"]
    assert len(json.loads(index.read_text())["entries"][real.name]) == SIZE  # read again


def test_backup_info_is_still_a_frozen_dataclass_with_its_defaults() -> None:
    """BackupInfo sets its fields through its slots (its own __init__): the same record."""
    when = datetime(2026, 11, 29, 7, 12, 3, tzinfo=UTC)
    info = BackupInfo("a.bak", Path("/b/a.bak"), when, 7, True, "s", "v", "f", True)
    assert [getattr(info, f.name) for f in dataclasses.fields(BackupInfo)] == [
        "a.bak",
        Path("/b/a.bak"),
        when,
        7,
        True,
        "s",
        "v",
        "f",
        True,
        None,
        False,
        None,
    ]
    by_keyword = BackupInfo(
        name="a.bak",
        path=Path("/b/a.bak"),
        created_at=when,
        size_bytes=7,
        verified=True,
        sha256="s",
        schema_version="v",
        fingerprint="f",
        ours=True,
        ident=(1, 2),
        untrusted=True,
        check="quick",
    )
    assert dataclasses.replace(info, ident=(1, 2), untrusted=True, check="quick") == by_keyword
    assert hash(dataclasses.replace(by_keyword)) == hash(by_keyword)
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.verified = False  # type: ignore[misc]


@pytest.mark.parametrize("stamp", ["00010101-000000", "99991231-235959"])
def test_a_name_at_the_ends_of_the_calendar_is_no_backup_name(
    tmp_path: Path, stamp: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review R5: our own file named for year 1 (or 9999 in a zone west of UTC) raised
    OverflowError in every listing (backups, prune, restore, recover) as a traceback."""
    from zarchd.backups import list_backups

    registry = make_registry(tmp_path / "reg" / "registry.db", rows=3)
    store = tmp_path / "bak"
    store.mkdir()
    odd = store / f"registry-{stamp}-zarchd.bak"
    shutil.copyfile(registry, odd)
    for tz in ("UTC", "America/New_York", "Pacific/Kiritimati"):
        monkeypatch.setenv("TZ", tz)
        assert [b.name for b in list_backups(registry, store)] == []
