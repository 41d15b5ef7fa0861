"""A fetched copy's work directory and store: private, cleaned up, reads there, writes local."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from tests.conftest import FIXTURE_0005
from zarchd.backups import list_backups, take_backup
from zarchd.backups.downloaded import DownloadedCopy, fetch_dir, hold
from zarchd.backups.meta import read_sidecar
from zarchd.backups.restore import restore_backup
from zarchd.backups.storage import LocalDirectory
from zarchd.backups.take import remove_temp_files


def test_fetch_dir_is_private_made_where_missing_and_removed(tmp_path: Path) -> None:
    near = tmp_path / "new" / "reg"
    with fetch_dir(near, "registry") as work:
        assert stat.S_IMODE(near.stat().st_mode) == 0o700
        assert stat.S_IMODE(work.stat().st_mode) == 0o700 and work.parent == near
        (work / "copy").write_bytes(b"x")
    assert list(near.iterdir()) == []


def test_a_killed_fetch_is_cleaned_by_remove_temp_files(tmp_path: Path) -> None:
    left = tmp_path / ".zarchd-fetch-registry-ab12cd34.fetch.d"
    left.mkdir()
    (left / "registry-20260101-000000-zarchd.bak").write_bytes(b"half")
    other = tmp_path / ".zarchd-fetch-other-ab12cd34.fetch.d"  # another registry's: kept
    other.mkdir()
    link = tmp_path / ".zarchd-fetch-registry-zz12cd34.fetch.d"  # never through a symlink
    link.symlink_to(other)
    assert remove_temp_files(tmp_path, "registry") == [left]
    assert not left.exists() and other.is_dir() and link.is_symlink()


def test_restore_reads_the_fetched_copy_and_keeps_the_safety_backup_local(
    tmp_path: Path,
) -> None:
    # a backup "from elsewhere": taken from another registry, its sidecar as the remote keeps it
    elsewhere = tmp_path / "a" / "registry.db"
    elsewhere.parent.mkdir()
    shutil.copyfile(FIXTURE_0005, elsewhere)
    sent = take_backup(elsewhere, elsewhere.parent)
    meta = read_sidecar(sent.path)
    assert meta is not None

    registry = tmp_path / "b" / "registry.db"
    registry.parent.mkdir()
    shutil.copyfile(FIXTURE_0005, registry)
    local = LocalDirectory(tmp_path / "b-backups")
    with fetch_dir(registry.parent, "registry") as work:
        shutil.copyfile(sent.path, work / sent.name)
        hold(work, sent.name, meta)
        store = DownloadedCopy(work, local, "remote x")
        assert str(store) == "remote x"
        assert [b.name for b in list_backups(registry, store)] == [sent.name]
        assert store.delete(sent.name) is False and (work / sent.name).exists()
        result = restore_backup(registry, store, sent.name)
        store.sync()
        assert store.remove_orphan_sidecars("registry") == []
        assert store.remove_temps("registry") == []
    safety = result["safety_backup"]
    assert (local.path / safety).is_file()  # in the local backup dir, not the work dir
    assert store.location(safety) == local.path / safety
    assert os.listdir(registry.parent) == ["registry.db"]
