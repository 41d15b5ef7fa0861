"""fsutil never writes through, nor publishes, a name another user could have planted
(issue 9, defects 3 and 9)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from zarchd.core.errors import UnsafePath
from zarchd.core.fsutil import atomic_write_text, copy_into, publish

NOBODY = 65534


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "victim.conf"
    victim.write_text("precious\n")
    return victim


def test_publish_refuses_a_temp_name_swapped_for_a_symlink(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    tmp = tmp_path / ".zarchd-registry-abcdefgh.bak.tmp"
    tmp.symlink_to(victim)
    final = tmp_path / "registry-20260314-120000.bak"
    with pytest.raises(UnsafePath):
        publish(tmp, final)
    assert not os.path.lexists(final)


def test_publish_refuses_a_temp_file_of_another_user(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give a file to nobody")
    tmp = tmp_path / ".zarchd-registry-abcdefgh.bak.tmp"
    tmp.write_bytes(b"planted")
    os.chown(tmp, NOBODY, NOBODY)
    final = tmp_path / "registry-20260314-120000.bak"
    with pytest.raises(UnsafePath) as info:
        publish(tmp, final)
    assert f"uid {NOBODY}" in info.value.message and not final.exists()


def test_copy_into_never_writes_through_a_symlink(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    source = tmp_path / "source.bak"
    source.write_bytes(b"backup bytes")
    target = tmp_path / ".zarchd-restore-registry-abcdefgh.tmp"
    target.symlink_to(victim)
    with pytest.raises(UnsafePath):
        copy_into(source, target)
    assert victim.read_text() == "precious\n"


def test_copy_into_refuses_a_source_replaced_since_it_was_checked(tmp_path: Path) -> None:
    source = tmp_path / "source.bak"
    source.write_bytes(b"checked bytes")
    st = source.stat()
    source.rename(tmp_path / "checked.bak")  # kept: its inode number cannot be reused
    source.write_bytes(b"other bytes")
    target = tmp_path / "target.tmp"
    target.touch()
    with pytest.raises(UnsafePath):
        copy_into(source, target, expect=(st.st_dev, st.st_ino))
    assert target.read_bytes() == b""


def test_atomic_write_replaces_a_planted_symlink_never_writes_through_it(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    sidecar = tmp_path / "registry-20260314-120000.bak.json"
    sidecar.symlink_to(victim)
    atomic_write_text(sidecar, "{}\n")
    assert not sidecar.is_symlink() and sidecar.read_text() == "{}\n"
    assert victim.read_text() == "precious\n"
