"""The writer lock in-process: who holds it is named, a lock that cannot be made is a clear
error, and the re-entrant job lock with its guard."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from zarchd.core.errors import LockHeld, RegistryError
from zarchd.db.lock import GuardedRLock, WriterLock, lock_path


def _registry(tmp_path: Path) -> Path:
    registry = tmp_path / "reg" / "registry.db"
    registry.parent.mkdir()
    return registry


def test_the_holder_is_named_with_its_pid_and_what_to_do(tmp_path: Path) -> None:
    registry = _registry(tmp_path)
    with WriterLock(registry, role="zarchd") as held:
        assert held.still_held()
        with pytest.raises(LockHeld) as info:
            WriterLock(registry).acquire()
        assert "the zarchd daemon (pid " in info.value.message
        assert "ask it through zarchctl without --local" in info.value.message
    with WriterLock(registry, role="zarchctl --local"), pytest.raises(LockHeld) as info:
        WriterLock(registry, role="zarchd").acquire()
    assert info.value.message.startswith("zarchctl --local (pid ")
    assert "wait for it to finish" in info.value.message
    WriterLock(registry).acquire().release()  # free again after each `with`


def test_a_lock_file_without_a_holder_line_still_gives_a_message(tmp_path: Path) -> None:
    registry = _registry(tmp_path)
    with WriterLock(registry) as held:
        assert held._fd is not None
        os.ftruncate(held._fd, 0)  # the holder's line gone: "?" stands in for it
        with pytest.raises(LockHeld, match=r"another process \(pid \?\)"):
            WriterLock(registry).acquire()


def test_a_lock_that_cannot_be_created_is_a_registry_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the registry's directory should be")
    with pytest.raises(RegistryError, match="cannot create the writer lock"):
        WriterLock(blocker / "registry.db").acquire()


def test_still_held_after_release_or_removal_is_false(tmp_path: Path) -> None:
    registry = _registry(tmp_path)
    lock = WriterLock(registry).acquire()
    lock_path(registry).unlink()
    assert not lock.still_held()
    lock.release()
    lock.release()  # twice is harmless
    assert not lock.still_held()


def test_the_job_lock_is_reentrant_and_exclusive_across_threads() -> None:
    lock = GuardedRLock()
    calls: list[str] = []
    lock.guard = lambda: calls.append("guard")
    with lock, lock:  # re-entrant: a job inside a job (migrate takes a backup first)
        got: list[bool] = []
        other = threading.Thread(target=lambda: got.append(lock.acquire(timeout=0.05)))
        other.start()
        other.join(5)
        assert got == [False]
    assert calls == ["guard", "guard"]
    assert lock.acquire(blocking=False)
    lock.release()
