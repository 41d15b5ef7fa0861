"""`zarchctl backups --local` prints its text straight from the listing's records (issue 16):
byte for byte the text the daemon's JSON answer renders to."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.app.conftest import make_ops
from tests.inprocess import FixedClock
from zarchd.app.operations import Operations
from zarchd.app.prunesummary import freed, in_listing_order
from zarchd.cli import ctl_entry, render
from zarchd.cli import runner as cli_runner
from zarchd.cli.progress_view import ProgressView
from zarchd.cli.records_text import Text, backups_text, prune_dry_run_text
from zarchd.core.config import RetentionPolicy


def _text_both_ways(ops: Operations, last: int | None = None) -> tuple[str, str]:
    return backups_text(*ops.listed_backups(last)), render.render("backups", ops.backups(last))


def _prune_both_ways(ops: Operations) -> tuple[str, str]:
    ordered, by_name = in_listing_order(*ops.prune_preview())
    fast = prune_dry_run_text(ordered, by_name, freed(ordered, by_name))
    return fast, render.render("prune", ops.prune(dry_run=True))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def lord_howe(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A local zone with a 30-minute DST shift and a half-hour offset."""
    monkeypatch.setenv("TZ", "Australia/Lord_Howe")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_the_records_text_is_the_json_text(
    tmp_path: Path, clock: FixedClock, lord_howe: None
) -> None:
    ops = make_ops(tmp_path, clock)
    assert _text_both_ways(ops)[0] == _text_both_ways(ops)[1]  # no backups at all
    made = []
    for hours in (0, 2000, 2400):  # either side of a DST change
        clock.advance(hours=hours, seconds=0.75)  # times with a fraction of a second
        made.append(ops.backup()["backup"])
    bak = tmp_path / "bak"
    # 7zarch-go's backup (no sidecar), a sidecar whose time the name contradicts (untrusted),
    # one with a hostile schema text, and a symlink under a backup's name (ignored)
    shutil.copyfile(bak / made[0]["name"], bak / "registry-20240101-120000.bak")
    planted = bak / "registry-20240102-120000-zarchd.bak"
    shutil.copyfile(bak / made[0]["name"], planted)
    side = json.loads((bak / (made[0]["name"] + ".json")).read_text())
    side.update(name=planted.name, created_at="2099-01-01T00:00:00Z")
    planted.with_name(planted.name + ".json").write_text(json.dumps(side))
    hostile = bak / (made[1]["name"] + ".json")
    side = json.loads(hostile.read_text())
    side.update(schema_version="x\x1b[2J\u202ey", check="quick")
    hostile.write_text(json.dumps(side))
    os.symlink(bak / made[2]["name"], bak / "registry-20240103-120000.bak")
    for last in (None, 1, 3):
        fast, slow = _text_both_ways(ops, last)
        assert fast == slow, last
    fast, _ = _text_both_ways(ops)
    assert "UNTRUSTED" in fast and "not ours" in fast
    assert "quick" in fast and "\x1b" not in fast and "\u202e" not in fast
    assert "+1030" in fast and "+1100" in fast  # both sides of the change, in local time
    # prune --dry-run of the same directory: a default policy, then the newest only
    fast, slow = _prune_both_ways(ops)
    assert fast == slow and "would keep" in fast
    ops.config = replace(
        ops.config,
        retention=RetentionPolicy(
            keep_last=1, keep_hourly=0, keep_daily=0, keep_weekly=0, keep_monthly=0, keep_yearly=0
        ),
    )
    conn = sqlite3.connect(ops.registry)  # a changed registry: a backup of a file of its own
    with conn:
        conn.execute(
            "INSERT INTO archives (uid, name, path, size, created) VALUES ('u', 'a', 'p', 1, 'c')"
        )
    conn.close()
    clock.advance(minutes=1)
    ops.backup()
    fast, slow = _prune_both_ways(ops)
    assert fast == slow and "delete " in fast and "not made by zarchd" in fast
    assert ", free 0 B" not in fast  # the older file goes with all its names


def test_backups_local_prints_the_records_text(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:  # through Typer: it exits
        ctl_entry.main(["backup", "--local", "--config", str(config)])
    assert done.value.code == 0
    capsys.readouterr()
    cfg = cli_runner.load(config, None)
    quiet = ProgressView(show=False)
    text = cli_runner.run_local(cfg, "backups", {"last": None}, quiet, text=True)
    assert isinstance(text, Text)  # really straight from the records
    answer = cli_runner.run_local(cfg, "backups", {"last": None}, quiet)
    assert not isinstance(answer, Text)  # --json and the daemon still get the answer itself
    ctl_entry.main(["backups", "--local", "--config", str(config)])
    assert capsys.readouterr().out == render.render("backups", answer) + "\n" == text + "\n"
    dry = {"dry_run": True}
    text = cli_runner.run_local(cfg, "prune", dry, quiet, text=True)
    assert isinstance(text, Text)
    ctl_entry.main(["prune", "--dry-run", "--local", "--config", str(config)])
    expected = render.render("prune", cli_runner.run_local(cfg, "prune", dry, quiet))
    assert capsys.readouterr().out == expected + "\n" == text + "\n"


def test_ignored_files_and_an_empty_listing_read_the_same(
    tmp_path: Path, clock: FixedClock
) -> None:
    # Files of other users are ignored (only root can plant one): the lines both texts share.
    ops = make_ops(tmp_path, clock)
    ops.backup()
    where, items, _ = ops.listed_backups()
    ignored = [{"name": "a\x1b[2Jb.bak", "reason": "owned by uid 7\n"}]
    for dir_, listed in ((where, items), ("d\x1bir", [])):
        answer = {"dir": dir_, "backups": [b.to_json() for b in listed], "ignored": ignored}
        text = backups_text(dir_, listed, ignored)
        assert text == render.render("backups", answer)  # type: ignore[arg-type]
        assert "ignored: a" in text and "\x1b" not in text
