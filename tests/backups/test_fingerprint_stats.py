"""The fingerprint comes from stat() alone (issue 9, defect 1): it must still change with a
commit that keeps the file's size and follows the token at once (the same timestamp tick)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from zarchd.backups import fingerprint

from .conftest import make_registry


@pytest.mark.parametrize("wal", [False, True], ids=["journal", "wal"])
def test_a_same_size_commit_right_after_the_token_is_noticed(tmp_path: Path, wal: bool) -> None:
    reg = make_registry(tmp_path / "registry.db", 50, wal=wal)
    app = sqlite3.connect(reg, isolation_level=None)
    app.execute("PRAGMA wal_autocheckpoint=0")
    missed = []
    for i in range(20):
        app.execute("UPDATE items SET payload = ? WHERE id = 1", (f"a{i:07d}",))
        token = fingerprint(reg)  # waits until the last write's tick is past, then stats
        app.execute("UPDATE items SET payload = ? WHERE id = 1", (f"b{i:07d}",))  # same size
        if fingerprint(reg) == token:
            missed.append(i)
    app.close()
    assert missed == []


def test_an_unchanged_registry_keeps_its_token(tmp_path: Path) -> None:
    reg = make_registry(tmp_path / "registry.db", 50)
    assert fingerprint(reg) == fingerprint(reg)
