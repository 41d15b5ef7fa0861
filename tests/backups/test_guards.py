"""The guards of restore, recover, verify and take that the happy paths never reach, through
Operations (what the daemon and `zarchctl --local` call): each refuses, or undoes, and says so."""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import importlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from zarchd.app.operations import Operations
from zarchd.backups import recover as recover_mod
from zarchd.backups.swap import intent_path
from zarchd.core.config import load_config
from zarchd.core.errors import BackupError, IntegrityFailure, UsageError

from .conftest import corrupt, make_registry

FOREIGN = "registry-20260101-120000.bak"  # 7zarch-go's own naming: no -zarchd, no sidecar


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ops_for(registry: Path) -> Operations:
    return Operations(load_config(None, {"ZARCH_REGISTRY": str(registry)}))


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    return make_registry(tmp_path / "reg" / "registry.db", rows=400)


def rows(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM items").fetchone()[0])
    finally:
        conn.close()


# ---- restore ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../registry.db", "reg/registry.db", "..", ""])
def test_restore_refuses_a_path_as_name(registry: Path, name: str) -> None:
    """Refused as "not a backup name" before anything is looked up: not merely "not found"."""
    ops = ops_for(registry)
    ops.backup()
    before = sha(registry)
    with pytest.raises(UsageError, match="is not a backup name"):
        ops.restore(name)
    assert sha(registry) == before


def test_good_foreign_backup_is_restored(registry: Path) -> None:
    """A 7zarch-go backup (no zarchd sidecar) is integrity-checked and put back."""
    foreign = registry.parent / FOREIGN
    shutil.copyfile(registry, foreign)
    conn = sqlite3.connect(registry)
    conn.execute("DELETE FROM items WHERE id > 100")
    conn.commit()
    conn.close()
    result = ops_for(registry).restore(FOREIGN)
    assert result["restored"] == FOREIGN and result["safety_backup"]
    assert rows(registry) == 400
    assert not Path(f"{foreign}.json").exists(), "a foreign backup never gets a sidecar"


def test_damaged_foreign_backup_is_not_restored(registry: Path) -> None:
    foreign = registry.parent / FOREIGN
    shutil.copyfile(registry, foreign)
    corrupt(foreign)
    before = sha(registry)
    with pytest.raises(IntegrityFailure, match=f"backup {FOREIGN} failed verification"):
        ops_for(registry).restore(FOREIGN)
    assert sha(registry) == before, "nothing may be changed"
    assert not list(registry.parent.glob("*-zarchd.bak")), "no safety backup either"


# ---- recover ---------------------------------------------------------------------------------


def test_recover_puts_the_registry_back_when_publishing_fails(
    registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The damaged registry was moved aside, then publishing its replacement failed (a link
    refused by the disk; injected at the one call, as a full disk cannot be made on demand):
    the damaged registry is back at its path, nothing set aside, no intent left."""
    ops = ops_for(registry)
    ops.backup()
    corrupt(registry)
    damaged = sha(registry)
    real_publish = recover_mod.publish

    def publish(tmp: Path, final: Path) -> None:
        if final == registry:
            assert not registry.exists(), "publishing only happens once it was moved aside"
            raise OSError(errno.EIO, "Input/output error", str(final))
        real_publish(tmp, final)

    monkeypatch.setattr(recover_mod, "publish", publish)
    with pytest.raises(BackupError, match="nothing was deleted"):
        ops.recover()
    assert registry.exists() and sha(registry) == damaged
    assert not list(registry.parent.glob("registry.db.corrupted-*"))
    assert not intent_path(registry).exists()
    assert not list(registry.parent.glob(".zarchd-restore-*")), "the prepared copy is removed"


def test_recover_with_the_registry_missing_puts_the_newest_good_backup_back(
    registry: Path,
) -> None:
    ops = ops_for(registry)
    ops.backup()
    registry.unlink()
    result = ops_for(registry).recover()
    assert result["restored"] and result["corrupted_saved_as"] is None
    assert rows(registry) == 400


# ---- verify ----------------------------------------------------------------------------------


def _one_backup(registry: Path) -> tuple[Operations, Path]:
    ops = ops_for(registry)
    name = ops.backup()["backup"]["name"]
    return ops, registry.parent / name


def test_verify_reports_a_missing_sidecar(registry: Path) -> None:
    ops, backup = _one_backup(registry)
    Path(f"{backup}.json").unlink()
    # Without its sidecar it is listed as a foreign backup: integrity-checked, never "ours".
    listed = {b["name"]: b for b in ops.backups()["backups"]}
    assert listed[backup.name]["ours"] is False
    assert ops.verify(backup.name)["bad"] == []


def test_verify_reports_a_size_mismatch(registry: Path) -> None:
    ops, backup = _one_backup(registry)
    sidecar = Path(f"{backup}.json")
    meta = json.loads(sidecar.read_text())
    meta["size_bytes"] += 1
    sidecar.write_text(json.dumps(meta))
    result = ops.verify(backup.name)
    assert result["bad"] == [backup.name]
    problems = result["results"][0]["problems"]
    assert any(f"size is {meta['size_bytes'] - 1} bytes" in p for p in problems), problems


def test_verify_reports_a_backup_removed_after_listing(registry: Path) -> None:
    """verify_backup on a listed backup whose file is then gone says so (not a traceback)."""
    from zarchd.backups import list_backups, verify_backup

    _ops, backup = _one_backup(registry)
    info = next(b for b in list_backups(registry, registry.parent) if b.name == backup.name)
    backup.unlink()
    res = verify_backup(info)
    assert not res.ok and res.problems == [f"{backup.name}: the file is missing"]


# ---- take ------------------------------------------------------------------------------------


def test_take_refuses_a_registry_that_is_not_a_database(tmp_path: Path) -> None:
    registry = tmp_path / "reg" / "registry.db"
    registry.parent.mkdir()
    registry.write_bytes(b"this is not an SQLite database, just text\n" * 200)
    with pytest.raises(IntegrityFailure, match=r"no backup taken \(file is not a database\)"):
        ops_for(registry).backup()
    assert not list(registry.parent.glob("*.bak")), "nothing published"
    assert not list(registry.parent.glob(".zarchd-*")), "no temp file left"


def test_recover_skips_a_backup_whose_prepared_copy_fails_its_check(
    registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The newest backup verifies, but its copy next to the registry comes out damaged (disk
    trouble, made here by wrecking the copy once it is written): recover says so and uses the
    next good backup instead; nothing half-done is left."""
    ops = ops_for(registry)
    older = ops.backup()["backup"]["name"]
    newer = ops.backup()["backup"]["name"]
    corrupt(registry)
    real_copy = recover_mod.copy_into
    wrecked: list[Path] = []

    def copy_into(source: Path, target: Path, **kw: object) -> None:
        real_copy(source, target, **kw)  # type: ignore[arg-type]
        if not wrecked:
            wrecked.append(target)
            with open(target, "r+b") as fh:
                fh.seek(4096)
                fh.write(b"\xff\x13" * 4096)

    monkeypatch.setattr(recover_mod, "copy_into", copy_into)
    result = ops.recover()
    assert result["restored"] == older
    skipped = {s["name"]: s["problems"] for s in result["skipped"]}
    assert any("failed its integrity check" in p for p in skipped[newer]), skipped
    assert rows(registry) == 400
    assert not wrecked[0].exists(), "the damaged copy is removed"


def test_take_with_the_registry_locked_gives_up_after_its_deadline(registry: Path) -> None:
    """Another process holds an exclusive lock: the copy waits up to its deadline, then a
    clear error; nothing published, no temp file left."""
    from zarchd.backups import take_backup

    holder = sqlite3.connect(registry, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO items (payload) VALUES ('uncommitted')")
    try:
        with pytest.raises(BackupError, match="stayed locked by another process"):
            take_backup(registry, registry.parent, deadline_s=0.5)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not list(registry.parent.glob("*.bak")), "nothing published"
    assert not list(registry.parent.glob(".zarchd-*")), "no temp file left"


def test_verify_reports_a_sidecar_removed_after_listing(registry: Path) -> None:
    from zarchd.backups import list_backups, verify_backup

    _ops, backup = _one_backup(registry)
    info = next(b for b in list_backups(registry, registry.parent) if b.name == backup.name)
    Path(f"{backup}.json").unlink()
    res = verify_backup(info)
    assert not res.ok
    assert res.problems == [f"{backup.name}: its metadata file is missing or unreadable"]


# ---- races, made to happen at the one moment they can ------------------------------------------


def test_a_name_taken_while_publishing_goes_to_the_next_free_name(
    registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer creates the chosen name between the choice and the link: nothing is
    overwritten, the backup gets the next name, the other file and no orphan sidecar remain."""
    take_mod = importlib.import_module("zarchd.backups.storage")  # where publishing lives
    real_publish = take_mod.publish
    planted: list[Path] = []

    def publish(tmp: Path, final: Path) -> None:
        if not planted:
            final.write_bytes(b"someone else's file\n")  # just after next_free checked it
            planted.append(final)
        real_publish(tmp, final)

    monkeypatch.setattr(take_mod, "publish", publish)
    info = ops_for(registry).backup()["backup"]
    assert info["name"] != planted[0].name
    assert planted[0].read_bytes() == b"someone else's file\n", "never overwritten"
    assert not Path(f"{planted[0]}.json").exists(), "the sidecar went with the lost name"
    assert Path(f"{registry.parent / info['name']}.json").exists()
    assert rows(registry.parent / info["name"]) == 400


def test_prune_keeps_the_protected_and_the_no_longer_ours(
    registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """prune's last guards, under a policy decision that drops everything: the newest verified
    backup is never deleted, nor one whose sidecar vanished after the listing (not ours)."""
    prune_mod = importlib.import_module("zarchd.backups.prune")
    ops = ops_for(registry)
    names = [ops.backup()["backup"]["name"] for _ in range(4)]
    newest, lost = names[-1], names[-2]
    real_decide = prune_mod.decide

    def decide(*args: object, **kw: object) -> list[object]:
        faulty = [  # a faulty policy decision: drop everything
            dataclasses.replace(d, keep=False, reasons=[prune_mod.NEWEST_VERIFIED])
            if d.name == newest
            else dataclasses.replace(d, keep=False)
            for d in real_decide(*args, **kw)
        ]
        Path(f"{registry.parent / lost}.json").unlink()  # e.g. 7zarch-go took the name over
        return faulty

    monkeypatch.setattr(prune_mod, "decide", decide)
    ops.prune()
    left = sorted(p.name for p in registry.parent.glob("*-zarchd*.bak"))
    assert left == sorted([newest, lost])
