"""A damaged state file is set aside, never fatal: zarchd starts over with empty bookkeeping."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from zarchd.app.state import State


@pytest.mark.parametrize(
    "content", [b"{not json", b"\xff\xfe\x00garbage", b"[1, 2, 3]"], ids=["json", "utf8", "list"]
)
def test_corrupt_state_file_is_set_aside_and_replaced(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    state = State(tmp_path)
    state.path.write_bytes(content)
    with caplog.at_level(logging.WARNING):
        assert state.snapshot() == {}
    assert "is unreadable" in caplog.text and "set aside" in caplog.text
    aside = tmp_path / "state.json.bad"
    assert aside.read_bytes() == content, "kept for a human to look at"
    state.update(last_error={"at": "now", "job": "backup", "message": "x"})
    assert json.loads(state.path.read_text())["last_error"]["job"] == "backup"


def test_field_of_the_wrong_type_is_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = State(tmp_path)
    state.path.write_text(json.dumps({"last_backup": "not a dict", "history": []}))
    with caplog.at_level(logging.WARNING):
        assert state.snapshot() == {"history": []}
    assert "ignoring last_backup of the wrong type" in caplog.text
