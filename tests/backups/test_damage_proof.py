"""Issue 9, defects 1 and 4 in-process: no module opens the registry outside SQLite, recover
proves damage before it moves anything, and a 0-byte registry that held data is damage."""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zarchd import backups
from zarchd.app.operations import Operations
from zarchd.app.status import build_status
from zarchd.core.config import load_config
from zarchd.core.errors import IntegrityFailure, UsageError

from .conftest import FixedClock, make_registry, max_id

_watch: dict[str, Any] = {"paths": set(), "seen": [], "thread": None}


def _audit(event: str, args: tuple[Any, ...]) -> None:
    # Every open()/os.open() of Python code raises the "open" audit event (SQLite's own opens,
    # in C, do not): a real observation of the calls, not a mock.
    if event != "open" or not _watch["paths"] or threading.get_ident() != _watch["thread"]:
        return
    path = args[0]
    if isinstance(path, (str, bytes, os.PathLike)):
        full = os.path.abspath(os.fsdecode(path))
        if full in _watch["paths"]:
            _watch["seen"].append(full)


sys.addaudithook(_audit)  # hooks cannot be removed: it stays idle outside `plain_opens`


@pytest.fixture
def plain_opens() -> Iterator[Any]:
    def watch(registry: Path) -> list[str]:
        _watch["paths"] = {
            os.path.abspath(str(registry) + s) for s in ("", "-journal", "-wal", "-shm")
        }
        _watch["thread"] = threading.get_ident()
        return _watch["seen"]

    yield watch
    _watch["paths"], _watch["seen"], _watch["thread"] = set(), [], None


def _damage(registry: Path) -> None:
    """Overwrite b-tree pages from page 3 on until SQLite sees the damage (the test may open
    the file: it holds no connection meanwhile)."""

    def check() -> str:
        conn = sqlite3.connect(registry)
        try:
            return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            return str(exc)
        finally:
            conn.close()

    size = registry.stat().st_size
    for offset in range(4096 * 2 + 8, size, 4096):
        with open(registry, "r+b") as fh:
            fh.seek(offset)
            fh.write(b"\xff\x13" * 300)
        if check() != "ok":
            return
    raise AssertionError("could not damage the registry")


def _ops(registry: Path, clock: FixedClock | None = None) -> Operations:
    cfg = load_config(None, {"ZARCH_REGISTRY": str(registry)})
    return Operations(cfg, now=clock) if clock else Operations(cfg)


@pytest.mark.parametrize("wal", [False, True], ids=["journal", "wal"])
def test_no_module_opens_the_registry_outside_sqlite(
    tmp_path: Path, wal: bool, clock: FixedClock, plain_opens: Any
) -> None:
    reg = make_registry(tmp_path / "reg" / "registry.db", 200, wal=wal)
    app = sqlite3.connect(reg, isolation_level=None)  # keeps -wal / -journal around
    app.execute("PRAGMA wal_autocheckpoint=0")
    app.execute("INSERT INTO items (payload) VALUES ('x')")
    ops = _ops(reg, clock)
    seen = plain_opens(reg)
    build_status(ops)
    backups.fingerprint(reg)
    ops.check()
    name = ops.backup()["backup"]["name"]
    ops.verify()
    clock.advance(minutes=1)
    ops.restore(name)
    ops.backup(force=False)
    app.close()
    _damage(reg)  # so that recover runs
    seen.clear()
    clock.advance(minutes=1)
    ops.recover()
    build_status(ops)
    assert seen == []
    if shutil.which("sqlite3"):  # salvage (no backup verifies) copies the damaged registry
        for info in backups.list_backups(reg, reg.parent):
            info.path.unlink()
        _damage(reg)
        seen.clear()
        clock.advance(minutes=1)
        assert ops.recover()["salvaged"]
        assert seen == []


def test_recover_proves_damage_with_two_checks(tmp_path: Path) -> None:
    reg = make_registry(tmp_path / "registry.db", 100)
    backups.take_backup(reg, tmp_path)
    assert backups.recover.proven_damage(reg, tmp_path, 1.0) == ["ok"]
    with pytest.raises(UsageError):
        backups.recover_registry(reg, tmp_path)  # a sound registry is never set aside
    assert max_id(reg) == 100


@pytest.fixture
def emptied(tmp_path: Path, clock: FixedClock) -> tuple[Path, Operations]:
    reg = make_registry(tmp_path / "reg" / "registry.db", 120)
    ops = _ops(reg, clock)
    ops.backup()
    clock.advance(minutes=5)
    os.truncate(reg, 0)  # `truncate -s 0 registry.db`
    return reg, ops


def test_empty_registry_that_held_data_is_damaged_for_check_and_status(
    emptied: tuple[Path, Operations],
) -> None:
    _reg, ops = emptied
    result = ops.check()
    assert result["ok"] is False and "empty" in result["problems"][0]
    report = build_status(ops)["registry"]
    assert report["integrity"] == "damaged" and "empty" in report["integrity_problems"][0]


def test_empty_registry_is_never_backed_up_over_good_backups(
    emptied: tuple[Path, Operations],
) -> None:
    reg, ops = emptied
    before = [b.name for b in backups.list_backups(reg, reg.parent)]
    with pytest.raises(IntegrityFailure):
        ops.backup()
    with pytest.raises(IntegrityFailure):
        backups.take_backup(reg, reg.parent)
    assert [b.name for b in backups.list_backups(reg, reg.parent)] == before


def test_recover_restores_over_an_empty_registry(emptied: tuple[Path, Operations]) -> None:
    reg, ops = emptied
    result = ops.recover()
    assert result["restored"] and result["corrupted_saved_as"]
    assert max_id(reg) == 120


def test_an_empty_registry_that_never_held_data_is_fine(tmp_path: Path) -> None:
    reg = tmp_path / "new" / "registry.db"
    reg.parent.mkdir()
    reg.touch()
    ops = _ops(reg)
    assert ops.check()["ok"] is True
    assert build_status(ops)["registry"]["integrity"] == "ok"
