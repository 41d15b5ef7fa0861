"""The state file: merged updates, a bounded history, damage set aside, never through a symlink."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zarchd.app.state import HISTORY_LIMIT, State


def test_updates_merge_and_the_history_is_bounded(tmp_path: Path) -> None:
    state = State(tmp_path / "state")
    assert state.get("last_backup") is None and state.snapshot() == {}
    state.update(last_backup={"name": "a"})
    State(tmp_path / "state").update(migrated_app_version="1")  # another process, same file
    assert state.snapshot() == {"last_backup": {"name": "a"}, "migrated_app_version": "1"}
    for i in range(HISTORY_LIMIT + 5):
        state.record_job({"job": "backup", "n": i})
    history = state.get("history")
    assert len(history) == HISTORY_LIMIT and history[-1]["n"] == HISTORY_LIMIT + 4


def test_a_damaged_file_is_set_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state = State(tmp_path)
    state.path.write_text("{not json")
    assert state.snapshot() == {}
    assert (tmp_path / "state.json.bad").read_text() == "{not json"
    state.path.write_text("[1, 2]")  # JSON, but not an object
    assert state.snapshot() == {}
    state.path.write_bytes(b"\xff\xfe")
    assert state.snapshot() == {}
    assert "unreadable" in caplog.text


def test_fields_of_the_wrong_type_are_dropped(tmp_path: Path) -> None:
    state = State(tmp_path)
    state.path.write_text(json.dumps({"last_backup": "yesterday", "history": [], "x": 1}))
    assert state.snapshot() == {"history": [], "x": 1}


def test_a_planted_symlink_is_neither_read_nor_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text(json.dumps({"last_error": {"message": "planted"}}))
    (tmp_path / "state").mkdir()
    state = State(tmp_path / "state")
    state.path.symlink_to(victim)
    assert state.snapshot() == {}
    (tmp_path / "state" / "state.lock").symlink_to(victim)
    state.update(last_backup={"name": "a"})  # refused, logged: state is best effort
    assert json.loads(victim.read_text()) == {"last_error": {"message": "planted"}}


def test_a_state_dir_that_is_a_file_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """State cannot be written (here a file where its directory should be; the same OSError
    path as an unwritable directory, which root could still write): logged, never raised."""
    blocker = tmp_path / "state"
    blocker.write_text("a file where the directory should be")
    state = State(blocker)
    state.update(last_backup={"name": "a"})
    assert state.snapshot() == {}
    assert "cannot" in caplog.text


def test_reads_follow_every_write_and_hand_out_copies(tmp_path: Path) -> None:
    state, other = State(tmp_path), State(tmp_path)  # the daemon and a --local writer
    state.update(migrated_app_version="1.0")
    assert state.get("migrated_app_version") == "1.0"  # read, and kept
    other.update(migrated_app_version="2.0")  # written by another State: a new file
    assert state.get("migrated_app_version") == "2.0"
    state.snapshot()["migrated_app_version"] = "changed by a caller"
    state.get("history", []).append({"job": "x"})
    assert state.snapshot() == {"migrated_app_version": "2.0"}
    (tmp_path / "state.json").unlink()
    assert state.snapshot() == {}
