"""Files another user could have planted are never trusted (issue 9, defect 9)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from zarchd.app.operations import Operations
from zarchd.backups import list_backups, recover_registry, resolve_name, take_backup, verify_backup
from zarchd.backups.names import local_tz
from zarchd.backups.trust import check_backup_dir
from zarchd.core.config import load_config
from zarchd.core.errors import UnsafeDirectory, UnsafePath

from .conftest import FixedClock, corrupt, make_registry, max_id

NOBODY = 65534
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give files to nobody")


def _ops(tmp_path: Path, registry: Path, backup_dir: Path) -> Operations:
    config = tmp_path / "zarchd.toml"
    config.write_text(f'[registry]\npath = "{registry}"\n[backup]\ndir = "{backup_dir}"\n')
    return Operations(load_config(config, {}))


def _plant(backup_dir: Path, database: Path, template: Path, name: str) -> Path:
    """Another user's (nobody's) valid database under a backup name, with a sidecar that says
    zarchd made and verified it (copied from `template`, one of ours)."""
    planted = backup_dir / name
    shutil.copyfile(database, planted)
    meta = json.loads(template.read_text())
    meta.update(
        name=name,
        size_bytes=planted.stat().st_size,
        created_at="2026-03-15T12:00:00.000000Z",
        sha256=hashlib.sha256(planted.read_bytes()).hexdigest(),
    )
    sidecar = backup_dir / (name + ".json")
    sidecar.write_text(json.dumps(meta))
    for path in (planted, sidecar):
        os.chown(path, NOBODY, NOBODY)
    return planted


def test_a_backup_dir_writable_by_others_without_sticky_bit_is_refused(
    tmp_path: Path, clock: FixedClock
) -> None:
    reg = make_registry(tmp_path / "reg" / "registry.db", 10)
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    ops = _ops(tmp_path, reg, shared)
    for verb in (ops.backup, ops.backups, ops.prune, ops.verify, ops.recover):
        with pytest.raises(UnsafeDirectory) as info:
            verb()
        assert info.value.exit_code == 2
        assert f"chmod go-w {shared}" in info.value.message and "sticky" in info.value.message
    with pytest.raises(UnsafeDirectory):
        take_backup(reg, shared, now=clock)
    assert list(shared.iterdir()) == []
    os.chmod(shared, 0o1777)  # a sticky shared directory is fine
    check_backup_dir(shared)
    assert ops.backup()["backup"]["name"]


@needs_root
def test_a_backup_dir_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, NOBODY, NOBODY)
    with pytest.raises(UnsafeDirectory) as info:
        check_backup_dir(theirs)
    assert f"uid {NOBODY}" in info.value.message


@needs_root
def test_recover_never_restores_a_database_planted_by_another_user(
    tmp_path: Path, clock: FixedClock
) -> None:
    reg = make_registry(tmp_path / "reg" / "registry.db", 100)
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    ours = take_backup(reg, shared, now=clock)
    other = make_registry(tmp_path / "other" / "registry.db", 7)
    local = clock.advance(days=1).astimezone(local_tz())
    evil = f"registry-{local:%Y%m%d-%H%M%S}.bak"
    _plant(shared, other, shared / (ours.name + ".json"), evil)
    corrupt(reg)
    result = recover_registry(reg, shared, now=clock)
    assert result["restored"] == ours.name
    assert max_id(reg) == 100  # our data, not the planted 7 rows
    assert any(s["name"] == evil and "not trusted" in s["problems"][0] for s in result["skipped"])
    ignored: list[dict[str, str]] = []
    assert [b.name for b in list_backups(reg, shared, ignored)] == [ours.name]
    assert ignored[0]["name"] == evil and f"uid {NOBODY}" in ignored[0]["reason"]
    with pytest.raises(UnsafePath) as info:
        resolve_name(reg, shared, evil)
    assert "not trusted" in info.value.message
    ops = _ops(tmp_path, reg, shared)
    assert ops.backups()["ignored"][0]["name"] == evil
    (decision,) = [d for d in ops.prune()["decisions"] if d["name"] == evil]
    assert decision["keep"] and "not trusted" in decision["reasons"][0]
    assert (shared / evil).exists()  # ignored, never deleted either
    assert stat.S_IMODE(os.stat(shared).st_mode) == 0o1777


def test_a_symlinked_sidecar_never_makes_a_backup_ours(tmp_path: Path, clock: FixedClock) -> None:
    reg = make_registry(tmp_path / "reg" / "registry.db", 10)
    bdir = tmp_path / "b"
    info = take_backup(reg, bdir, now=clock)
    sidecar = bdir / (info.name + ".json")
    elsewhere = tmp_path / "elsewhere.json"
    sidecar.rename(elsewhere)
    sidecar.symlink_to(elsewhere)
    (listed,) = list_backups(reg, bdir)
    assert listed.name == info.name and listed.ours is False  # never deletable by prune


def test_verify_hashes_the_file_it_listed_not_a_swapped_one(
    tmp_path: Path, clock: FixedClock
) -> None:
    reg = make_registry(tmp_path / "reg" / "registry.db", 10)
    bdir = tmp_path / "b"
    info = take_backup(reg, bdir, now=clock)
    (listed,) = list_backups(reg, bdir)
    swapped = tmp_path / "swapped.bak"
    shutil.copyfile(listed.path, swapped)  # same bytes, another file
    os.replace(swapped, listed.path)
    result = verify_backup(listed, now=clock)
    assert not result.ok and "replaced since it was listed" in result.problems[0], result
    assert verify_backup(list_backups(reg, bdir)[0], now=clock).ok  # listed afresh: fine
    assert info.name == listed.name
