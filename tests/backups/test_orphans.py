"""Sidecars left without their backup are cleaned under the writer lock (issue 9, defect 11)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from zarchd.app.operations import Operations
from zarchd.backups import list_backups, take_backup
from zarchd.backups.names import local_tz
from zarchd.core.config import load_config

from .conftest import FixedClock, make_registry

NOBODY = 65534


def test_orphan_sidecars_of_ours_are_removed_and_their_names_reused(
    tmp_path: Path, clock: FixedClock
) -> None:
    reg = make_registry(tmp_path / "reg" / "registry.db", 10)
    bdir = tmp_path / "b"
    first = take_backup(reg, bdir, now=clock)
    # kill -9 between the sidecar and the link (or mid-prune): the sidecar stays alone
    first.path.unlink()
    orphan = bdir / (first.name + ".json")
    assert orphan.exists()
    # what is not ours stays: another format, a name of another registry, a non-backup name
    local = clock.now.astimezone(local_tz())
    foreign = bdir / f"registry-{local:%Y%m%d-%H%M%S}-7.bak.json"
    foreign.write_text(json.dumps({"format": "someone-else/1"}))
    other_stem = bdir / f"other-{local:%Y%m%d-%H%M%S}.bak.json"
    other_stem.write_text(orphan.read_text())
    kept_with_backup = take_backup(reg, bdir, now=clock)  # -1: has its backup
    config = tmp_path / "zarchd.toml"
    config.write_text(f'[registry]\npath = "{reg}"\n[backup]\ndir = "{bdir}"\n')
    ops = Operations(load_config(config, {}))
    ops.remove_leftovers()  # what the daemon does at start, holding the writer lock
    assert not orphan.exists()
    assert foreign.exists() and other_stem.exists()
    assert (bdir / (kept_with_backup.name + ".json")).exists()
    assert [b.name for b in list_backups(reg, bdir)] == [kept_with_backup.name]
    assert take_backup(reg, bdir, now=clock).name == first.name  # the name is free again


def test_an_orphan_sidecar_of_another_user_is_left_alone(tmp_path: Path, clock: FixedClock) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give a file to nobody")
    reg = make_registry(tmp_path / "reg" / "registry.db", 10)
    bdir = tmp_path / "b"
    info = take_backup(reg, bdir, now=clock)
    info.path.unlink()
    sidecar = bdir / (info.name + ".json")
    os.chown(sidecar, NOBODY, NOBODY)
    config = tmp_path / "zarchd.toml"
    config.write_text(f'[registry]\npath = "{reg}"\n[backup]\ndir = "{bdir}"\n')
    Operations(load_config(config, {})).remove_leftovers()
    assert sidecar.exists()
