"""registry: check_file tells damage (a problem list) from could-not-check (RegistryError)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.backups.conftest import make_registry
from tests.conftest import corrupt
from zarchd.core.errors import RegistryError
from zarchd.db.registry import (
    COMMIT_COMPANIONS,
    COMPANIONS,
    check_file,
    companions,
    connect,
    file_uri,
    integrity_check,
    open_static,
    wal_path,
)


def test_a_locked_registry_is_not_damaged_it_could_not_be_checked(tmp_path: Path) -> None:
    reg = make_registry(tmp_path / "registry.db")
    holder = sqlite3.connect(reg, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(RegistryError) as err:
            check_file(reg, timeout=0.2)
        conn = connect(reg, readonly=True, timeout=0.2)
        with pytest.raises(RegistryError, match="locked by another process"):
            integrity_check(conn, quick=True)
        conn.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert err.value.message.startswith(f"the registry {reg} is locked by another process (")
    assert "could not check it, try again" in err.value.message
    assert "recover" not in err.value.message
    assert check_file(reg, timeout=0.2) == ["ok"]  # free again: sound


def test_files_that_cannot_be_opened_raise_instead_of_being_reported_ascorrupt(
    tmp_path: Path,
) -> None:
    with pytest.raises(RegistryError, match="does not exist"):
        check_file(tmp_path / "missing.db")
    with pytest.raises(RegistryError, match="does not exist"):
        check_file(tmp_path / "missing.db", static=True)
    directory = tmp_path / "dir.db"
    directory.mkdir()
    with pytest.raises(RegistryError, match="is a directory"):
        check_file(directory)
    with pytest.raises(RegistryError, match="is a directory"):
        check_file(directory, static=True)
    assert list(tmp_path.iterdir()) == [directory]  # nothing created while trying


@pytest.mark.parametrize("static", [False, True], ids=["registry", "static"])
def test_real_damage_is_a_problem_list(tmp_path: Path, static: bool) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database at all" * 200)
    problems = check_file(garbage, static=static)
    assert problems != ["ok"] and "file is not a database" in problems[0]
    damaged = make_registry(tmp_path / "damaged.db", 3000)
    corrupt(damaged)
    problems = check_file(damaged, static=static)
    assert problems and problems != ["ok"]
    assert all("locked" not in p for p in problems)
    assert check_file(make_registry(tmp_path / "fine.db"), static=static, quick=True) == ["ok"]


def test_static_check_leaves_no_files_next_to_a_wal_copy(tmp_path: Path) -> None:
    live = make_registry(tmp_path / "live.db", 50, wal=True)
    app = sqlite3.connect(live, isolation_level=None)
    app.execute("PRAGMA wal_autocheckpoint=0")
    app.execute("INSERT INTO items (payload) VALUES ('late')")
    copy = tmp_path / "copy" / "registry.db"
    copy.parent.mkdir()
    copy.write_bytes(live.read_bytes())  # as a foreign backup: the main file only, WAL mode
    app.close()
    assert check_file(copy, static=True) == ["ok"]
    assert [p.name for p in copy.parent.iterdir()] == ["registry.db"]


def test_uri_quoting_of_awkward_names(tmp_path: Path) -> None:
    odd = tmp_path / "a?b#c%d e.db"
    make_registry(odd, 10)
    assert file_uri(odd, mode="ro").endswith("a%3fb%23c%25d e.db?mode=ro")
    assert file_uri(odd).startswith("file:/") and "?" not in file_uri(odd)
    assert check_file(odd) == ["ok"] and check_file(odd, static=True) == ["ok"]
    conn = open_static(odd)
    assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 10
    conn.close()
    conn = connect(odd)
    conn.execute("INSERT INTO items (payload) VALUES ('w')")
    conn.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [odd.name]  # not "a" or "a?b"


def test_companion_names(tmp_path: Path) -> None:
    reg = tmp_path / "registry.db"
    assert set(COMMIT_COMPANIONS) < set(COMPANIONS) and "-shm" not in COMMIT_COMPANIONS
    assert [p.name for p in companions(reg)] == ["registry.db" + s for s in COMPANIONS]
    assert wal_path(reg) == tmp_path / "registry.db-wal"
