"""The BackupStore contract, run against every store (a remote one joins STORES later).

Each factory gives a store and a way to plant a file in it as someone else would (7zarch-go's
own backup, a sidecar left by a killed run), without going through the store."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from zarchd.backups import names
from zarchd.backups.meta import FORMAT
from zarchd.backups.storage import BackupStore, LocalDirectory
from zarchd.core.clock import iso
from zarchd.core.errors import UsageError

STEM = "registry"
A = f"{STEM}-20260101-120000-zarchd.bak"
B = f"{STEM}-20260101-120000-zarchd-1.bak"
C = f"{STEM}-20260101-120000-zarchd-2.bak"


@dataclass
class Subject:
    store: BackupStore
    plant: Callable[[str, bytes], None]  # a file put there by someone else


def local_directory(tmp_path: Path) -> Subject:
    directory = tmp_path / "backups"

    def plant(name: str, data: bytes) -> None:
        directory.mkdir(mode=0o700, exist_ok=True)
        (directory / name).write_bytes(data)

    return Subject(LocalDirectory(directory), plant)


STORES = [pytest.param(local_directory, id="local")]


@pytest.fixture(params=STORES)
def subject(request: pytest.FixtureRequest, tmp_path: Path) -> Subject:
    factory: Callable[[Path], Subject] = request.param
    return factory(tmp_path)


def meta() -> dict[str, Any]:
    return {"created_at": iso(datetime(2026, 1, 1, 12, tzinfo=UTC)), "size_bytes": 5}


def put(store: BackupStore, candidates: list[str], data: bytes = b"hello") -> str:
    """Publish `data` as take_backup does: a finished copy in the store's temp file, then put."""
    with store.temp_file(STEM) as tmp:
        tmp.write_bytes(data)
        return store.put(tmp, candidates, meta())


def sidecar_bytes(name: str) -> bytes:
    return json.dumps({"format": FORMAT, "name": name, **meta()}).encode()


def test_a_missing_store_lists_nothing(subject: Subject) -> None:
    assert subject.store.scan(STEM) == []
    assert subject.store.remove_orphan_sidecars(STEM) == []
    assert subject.store.remove_temps(STEM) == []
    assert str(subject.store)  # messages can name it


def test_put_publishes_the_file_with_its_sidecar(subject: Subject) -> None:
    store = subject.store
    store.prepare()
    name = put(store, [A, B])
    assert name == A
    [listed] = store.scan(STEM)
    assert (listed.name, listed.size, listed.untrusted) == (A, 5, None)
    assert listed.sidecar is not None and listed.sidecar["name"] == A
    assert store.read_sidecar(A) == listed.sidecar
    with store.open(A) as path:
        assert path.read_bytes() == b"hello"
    assert store.unchanged(A, listed.ident)


def test_put_never_overwrites_and_skips_names_an_orphan_sidecar_holds(subject: Subject) -> None:
    store = subject.store
    store.prepare()
    subject.plant(A, b"7zarch-go's own backup")
    subject.plant(B + names.SIDECAR, sidecar_bytes(B))  # a killed run's sidecar claims B
    assert put(store, [A, B, C]) == C
    with store.open(A) as path:
        assert path.read_bytes() == b"7zarch-go's own backup"
    assert store.read_sidecar(A) is None  # still not ours
    with pytest.raises(UsageError, match="no free backup name"):
        put(store, [A, B, C])


def test_delete_removes_only_ours(subject: Subject) -> None:
    store = subject.store
    store.prepare()
    subject.plant(A, b"7zarch-go's own backup")
    name = put(store, [B])
    assert store.delete(A) is False  # no sidecar of ours: never deleted
    assert store.delete(name) is True
    store.sync()
    assert [s.name for s in store.scan(STEM)] == [A]
    assert store.read_sidecar(name) is None  # the sidecar went with it


def test_update_sidecar_records_a_verification(subject: Subject) -> None:
    store = subject.store
    store.prepare()
    name = put(store, [A])
    record = store.read_sidecar(name)
    assert record is not None
    store.update_sidecar(name, {**record, "verified": False, "problems": ["bad"]})
    again = store.read_sidecar(name)
    assert again is not None and again["verified"] is False and again["problems"] == ["bad"]


def test_orphan_sidecars_of_ours_go_foreign_ones_stay(subject: Subject) -> None:
    store = subject.store
    store.prepare()
    subject.plant(A + names.SIDECAR, sidecar_bytes(A))  # ours, its backup gone
    subject.plant(B + names.SIDECAR, json.dumps({"format": "someone-else/1"}).encode())
    kept = put(store, [C])
    removed = store.remove_orphan_sidecars(STEM)
    assert [p.name for p in removed] == [A + names.SIDECAR]
    assert store.read_sidecar(kept) is not None
    assert put(store, [A]) == A  # the name is free again


def test_temp_files_of_a_killed_run_are_removed(subject: Subject) -> None:
    store = subject.store
    store.prepare()
    with store.temp_file(STEM) as tmp:
        tmp.write_bytes(b"half a copy")
        assert store.remove_temps(STEM, older_than_s=3600) == []  # a live run's copy stays
        assert store.remove_temps(STEM) == [tmp]  # under the writer lock: every one
    assert store.scan(STEM) == []


def test_unchanged_means_the_very_file_listed(subject: Subject) -> None:
    store = subject.store
    store.prepare()
    first, other = put(store, [A]), put(store, [B], b"other")
    idents = {s.name: s.ident for s in store.scan(STEM)}
    assert store.unchanged(first, idents[first])
    assert not store.unchanged(first, idents[other])  # another file under that name
    assert store.delete(first)
    assert not store.unchanged(first, idents[first])  # gone
