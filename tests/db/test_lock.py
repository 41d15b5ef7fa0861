"""The writer lock never writes through a planted file (issue 9, defect 3) and is keyed on the
registry's real path (defect 12)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from zarchd.core.errors import LockHeld, UnsafePath
from zarchd.db.lock import GuardedRLock, WriterLock, lock_path

NOBODY = 65534


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "victim.conf"
    victim.write_text("precious\n")
    return victim


def test_a_planted_symlink_lock_is_refused_and_the_target_left_alone(tmp_path: Path) -> None:
    registry = tmp_path / "reg" / "registry.db"
    registry.parent.mkdir()
    victim = _victim(tmp_path)
    lock_path(registry).symlink_to(victim)
    with pytest.raises(UnsafePath) as info:
        WriterLock(registry).acquire()
    assert str(lock_path(registry)) in info.value.message and "symbolic link" in info.value.message
    assert victim.read_text() == "precious\n"


def test_a_lock_file_of_another_user_is_refused_naming_its_owner(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give a file to nobody")
    registry = tmp_path / "registry.db"
    planted = lock_path(registry)
    planted.write_text("1 planted\n")
    os.chown(planted, NOBODY, NOBODY)
    with pytest.raises(UnsafePath) as info:
        WriterLock(registry).acquire()
    assert str(planted) in info.value.message and f"uid {NOBODY}" in info.value.message
    assert planted.read_text() == "1 planted\n"


def test_a_hard_linked_lock_file_is_refused(tmp_path: Path) -> None:
    registry = tmp_path / "registry.db"
    victim = _victim(tmp_path)
    os.link(victim, lock_path(registry))
    with pytest.raises(UnsafePath) as info:
        WriterLock(registry).acquire()
    assert "2 hard links" in info.value.message
    assert victim.read_text() == "precious\n"


def test_the_lock_is_shared_through_a_symlinked_registry(tmp_path: Path) -> None:
    real = tmp_path / "real" / "registry.db"
    real.parent.mkdir()
    real.touch()
    link = tmp_path / "elsewhere" / "reg-link.db"
    link.parent.mkdir()
    link.symlink_to(real)
    assert lock_path(link) == lock_path(real) == real.with_name(".registry.db.zarchd.lock")
    with WriterLock(real, role="zarchd"), pytest.raises(LockHeld):
        WriterLock(link).acquire()


def test_still_held_sees_the_lock_file_deleted_or_replaced(tmp_path: Path) -> None:
    registry = tmp_path / "reg" / "registry.db"
    registry.parent.mkdir()
    with WriterLock(registry) as lock:
        assert lock.still_held()
        lock.path.unlink()
        assert not lock.still_held()
        with WriterLock(registry) as second:  # what a second daemon could then do
            assert second.still_held() and not lock.still_held()


def test_a_guard_that_refuses_leaves_the_write_lock_free() -> None:
    lock = GuardedRLock()
    calls: list[int] = []

    def guard() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise LockHeld("lost it")

    lock.guard = guard
    with pytest.raises(LockHeld), lock:
        raise AssertionError("the job must not run")
    with lock:  # free again, and checked again
        assert lock.acquire(blocking=False)
        lock.release()
    assert len(calls) == 2
