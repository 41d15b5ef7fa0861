"""Leftovers of a killed run: zarchd's own temp files and salvage work directories, nobody
else's (removed only by the writer-lock holder: the daemon at start, `--local` writers)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from zarchd.backups.temps import remove_temps

NOBODY = 65534


def test_a_salvage_work_directory_left_by_a_killed_recover_is_removed(tmp_path: Path) -> None:
    ours = tmp_path / ".zarchd-salvage-registry-abcd1234.salvage.d"
    ours.mkdir(mode=0o700)
    (ours / "damaged.db").write_bytes(b"x" * 100)
    (ours / "damaged.db-wal").write_bytes(b"y")
    victim = tmp_path / "elsewhere"
    victim.mkdir()
    (victim / "keep").write_text("keep")
    link = tmp_path / ".zarchd-salvage-registry-zzzz9999.salvage.d"
    link.symlink_to(victim)  # never followed
    other_stem = tmp_path / ".zarchd-salvage-other-abcd1234.salvage.d"
    other_stem.mkdir()
    removed = remove_temps(tmp_path, "registry", None)
    assert removed == [ours] and not ours.exists()
    assert link.is_symlink() and (victim / "keep").read_text() == "keep"
    assert other_stem.is_dir()


def test_salvage_directories_are_left_alone_by_the_age_based_sweep(tmp_path: Path) -> None:
    """With a cutoff (a backup's own sweep, no lock on restore/salvage), only old backup copies
    go: a salvage in another process may be running."""
    running = tmp_path / ".zarchd-salvage-registry-abcd1234.salvage.d"
    running.mkdir(mode=0o700)
    os.utime(running, (0, 0))
    assert remove_temps(tmp_path, "registry", 0.0) == []
    assert running.is_dir()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a directory owned by nobody")
def test_a_salvage_directory_of_another_user_is_not_removed(tmp_path: Path) -> None:
    planted = tmp_path / ".zarchd-salvage-registry-abcd1234.salvage.d"
    planted.mkdir()
    os.chown(planted, NOBODY, NOBODY)
    assert remove_temps(tmp_path, "registry", None) == []
    assert planted.is_dir()
