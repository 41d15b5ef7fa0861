"""Identical backups stored once: hard links, each name still a backup of its own."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

from tests.conftest import tamper
from zarchd.backups import list_backups, restore_backup, take_backup, verify_backup
from zarchd.backups.dedupe import previous_backup, same_content
from zarchd.backups.storage import LocalDirectory

from .conftest import FixedClock, add_row, make_registry, max_id


def _blocks(directory: Path) -> int:
    """Disk blocks of the directory's files counted as `du` does: each inode once."""
    seen: dict[tuple[int, int], int] = {}
    for p in directory.iterdir():
        st = p.lstat()
        seen[(st.st_dev, st.st_ino)] = st.st_blocks
    return sum(seen.values())


def test_unchanged_registry_backups_share_one_file(tmp_path: Path, clock: FixedClock) -> None:
    reg = make_registry(tmp_path / "registry.db", 3000)  # ~700 KiB
    out = tmp_path / "b"
    taken = []
    for _ in range(5):
        taken.append(take_backup(reg, out, now=clock))
        clock.advance(hours=1)
    inodes = {p.path.stat().st_ino for p in taken}
    assert len(inodes) == 1 and taken[0].path.stat().st_nlink == 5
    one_file = taken[0].path.stat().st_blocks
    assert _blocks(out) < one_file * 1.2  # five backups, the space of one (plus sidecars)
    sidecars = [json.loads(Path(f"{b.path}.json").read_text()) for b in taken]
    assert [s["name"] for s in sidecars] == [b.name for b in taken]  # each its own sidecar
    assert "same_as" not in sidecars[0] and sidecars[1]["same_as"] == taken[0].name
    listed = list_backups(reg, out)
    assert [b.name for b in listed] == [b.name for b in taken]
    assert all(verify_backup(b, now=clock).ok for b in listed)

    # Deleting one name (retention) never deletes the others' data.
    store = LocalDirectory(out)
    assert store.delete(taken[0].name) and store.delete(taken[2].name)
    left = list_backups(reg, out)
    assert [b.name for b in left] == [taken[1].name, taken[3].name, taken[4].name]
    assert all(verify_backup(b, now=clock).ok for b in left)
    assert taken[4].path.stat().st_nlink == 3

    # Restore copies out of the shared file: the other names stay as they were.
    add_row(reg)
    restore_backup(reg, out, taken[3].name, now=clock)
    assert max_id(reg) == 3000 and taken[3].path.stat().st_ino in inodes
    assert all(verify_backup(b, now=clock).ok for b in left)

    # A changed registry is a new file.
    clock.advance(hours=1)
    add_row(reg)
    changed = take_backup(reg, out, now=clock)
    assert changed.path.stat().st_ino not in inodes and changed.path.stat().st_nlink == 1


def test_a_recorded_hash_alone_never_makes_a_link(tmp_path: Path, clock: FixedClock) -> None:
    reg = make_registry(tmp_path / "registry.db", 500)
    out = tmp_path / "b"
    first = take_backup(reg, out, now=clock)
    tamper(first.path)  # bit rot: its sidecar still records the registry's hash
    clock.advance(hours=1)
    second = take_backup(reg, out, now=clock)
    assert second.path.stat().st_ino != first.path.stat().st_ino
    assert os.stat(second.path).st_nlink == 1 and verify_backup(second, now=clock).ok
    assert not verify_backup(list_backups(reg, out)[0], now=clock).ok


def test_no_link_to_a_missing_swapped_or_unverified_previous(
    tmp_path: Path, clock: FixedClock
) -> None:
    reg = make_registry(tmp_path / "registry.db", 200)
    out = tmp_path / "b"
    first = take_backup(reg, out, now=clock)
    listed = list_backups(reg, out)
    copy = tmp_path / "copy.bak"
    copy.write_bytes(first.path.read_bytes())
    assert previous_backup(listed) == listed[0]
    assert same_content(copy, first.sha256 or "", first.size_bytes, listed[0])
    assert not same_content(copy, "0" * 64, first.size_bytes, listed[0])  # another hash
    first.path.rename(tmp_path / "moved.bak")
    first.path.write_bytes(copy.read_bytes())  # the same bytes, but not the file listed
    assert not same_content(copy, first.sha256 or "", first.size_bytes, listed[0])
    first.path.unlink()
    assert not same_content(copy, first.sha256 or "", first.size_bytes, listed[0])
    assert previous_backup([replace(listed[0], verified=False)]) is None
    assert previous_backup([]) is None
    # The store will not link a name whose file changed since it was compared.
    first.path.write_bytes(copy.read_bytes())
    store = LocalDirectory(out)
    assert store.put_link(first.name, (0, 0), ["registry-20260314-130000-zarchd.bak"], {}) is None
    assert sorted(p.name for p in out.iterdir()) == [first.name, f"{first.name}.json"]
