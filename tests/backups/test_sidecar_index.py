"""The sidecar index: listing reads only changed sidecars, and never trusts the index over them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.backups.conftest import make_registry
from zarchd.backups import list_backups, sidecarindex, take_backup
from zarchd.backups.meta import write_sidecar
from zarchd.backups.names import sidecar_path
from zarchd.backups.sidecarindex import AT, FIELDS, FORMAT, SIZE, STATS
from zarchd.backups.storage import LocalDirectory


@pytest.fixture(autouse=True)
def settled_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests write sidecars and list them at once: a sidecar counts as settled (see
    test_a_sidecar_written_just_now_is_not_remembered for the real rule)."""
    monkeypatch.setattr(sidecarindex, "SETTLED_NS", 0)


def _setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    registry = make_registry(tmp_path / "reg" / "registry.db", rows=10)
    store, index = tmp_path / "bak", tmp_path / "state" / "sidecar-index.json"
    take_backup(registry, LocalDirectory(store))
    return registry, store, index


def _list(registry: Path, store: Path, index: Path) -> list[dict[str, object]]:
    return [b.to_json() for b in list_backups(registry, LocalDirectory(store, index))]


def test_the_index_answers_as_the_files_do_and_follows_a_rewritten_sidecar(
    tmp_path: Path,
) -> None:
    registry, store, index = _setup(tmp_path)
    plain = [b.to_json() for b in list_backups(registry, LocalDirectory(store))]
    assert _list(registry, store, index) == plain  # read, and remembered
    saved = json.loads(index.read_text())
    assert saved["format"] == FORMAT and saved["dir"] == str(store)
    assert oct(index.stat().st_mode & 0o777) == "0o600"
    assert _list(registry, store, index) == plain  # from the index this time
    # verify rewrites a sidecar: the next listing reads the new one, not the index's copy
    (backup,) = store.glob("*.bak")
    meta = json.loads(sidecar_path(backup).read_text())
    meta["verified"] = False
    write_sidecar(backup, {k: v for k, v in meta.items() if k != "format"})
    assert [b["verified"] for b in _list(registry, store, index)] == [False]


def test_a_sidecar_changed_in_place_is_read_again(tmp_path: Path) -> None:
    registry, store, index = _setup(tmp_path)
    _list(registry, store, index)
    (backup,) = store.glob("*.bak")
    side = sidecar_path(backup)
    text = side.read_text()
    st = side.stat()
    # Same size, same mtime, same inode: only the ctime (which nobody can set back) moves.
    side.write_text(text.replace('"verified": true', '"verified": null'))
    os.utime(side, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert side.stat().st_size == st.st_size and side.stat().st_ino == st.st_ino
    assert [b["verified"] for b in _list(registry, store, index)] == [False]


def test_a_planted_or_forged_index_makes_nothing_ours(tmp_path: Path) -> None:
    registry, store, index = _setup(tmp_path)
    (backup,) = store.glob("*.bak")
    side = sidecar_path(backup)
    side.unlink()  # 7zarch-go's file now: not ours
    st = backup.stat()
    # An index claiming a sidecar for it (even with the backup's own stats) changes nothing:
    # entries are only looked up for a sidecar that exists, by that sidecar's stats.
    forged = {"created_at": "2099-01-01T00:00:00Z", "verified": True, "size_bytes": st.st_size}
    record = [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]
    index.parent.mkdir(parents=True)
    body = {
        "format": FORMAT,
        "dir": str(store),
        "entries": {backup.name: [*record, *(forged.get(f) for f in FIELDS)]},
    }
    index.write_text(json.dumps(body))
    assert [b["ours"] for b in _list(registry, store, index)] == [False]
    # A symlink at the index's name is never read; the listing still works from the files.
    index.unlink()
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps(body))
    index.symlink_to(elsewhere)
    assert [b["ours"] for b in _list(registry, store, index)] == [False]


def test_a_damaged_index_or_one_of_another_dir_is_rebuilt(tmp_path: Path) -> None:
    registry, store, index = _setup(tmp_path)
    index.parent.mkdir(parents=True)
    for content in ("{not json", json.dumps({"format": FORMAT, "dir": "/else", "entries": {}})):
        index.write_text(content)
        assert [b["ours"] for b in _list(registry, store, index)] == [True]
        assert json.loads(index.read_text())["dir"] == str(store)  # rewritten for this dir


def test_removed_backups_leave_the_index(tmp_path: Path) -> None:
    registry, store, index = _setup(tmp_path)
    _list(registry, store, index)
    (backup,) = store.glob("*.bak")
    backup.unlink()
    sidecar_path(backup).unlink()
    assert _list(registry, store, index) == []
    assert json.loads(index.read_text())["entries"] == {}


def test_the_index_keeps_one_slim_record_and_is_used_while_the_stats_match(
    tmp_path: Path,
) -> None:
    registry, store, index = _setup(tmp_path)
    plain = _list(registry, store, index)
    (backup,) = store.glob("*.bak")
    saved = json.loads(index.read_text())
    record = saved["entries"][backup.name]
    # the stats and the listed fields, nothing else
    meta = json.loads(sidecar_path(backup).read_text())
    assert len(record) == SIZE and record[STATS:] == [meta.get(f) for f in FIELDS]
    assert "source" not in json.dumps(saved)  # e.g. the registry's path: not listed, not kept
    # Proof that a matching record is what answers (so the checks above are about something):
    # the index says not verified, the unchanged sidecar says verified.
    record[AT["verified"]] = False
    index.write_text(json.dumps(saved))
    assert [b["verified"] for b in _list(registry, store, index)] == [False]
    # An index of an older format (whole sidecars; the fields as a list; as an object) is not
    # read: the files answer again.
    st = sidecar_path(backup).stat()
    assert [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns] == record[:4]
    for older in (
        {"format": "zarchd-sidecar-index/1", "entries": {backup.name: record}},
        {"format": "zarchd-sidecar-index/2", "entries": {backup.name: record}},
        {
            "format": "zarchd-sidecar-index/3",
            "entries": {
                backup.name: [*record[:STATS], dict(zip(FIELDS, record[STATS:], strict=True))]
            },
        },
    ):
        index.write_text(json.dumps({**older, "dir": str(store)}))
        assert _list(registry, store, index) == plain
        assert json.loads(index.read_text())["format"] == FORMAT  # rewritten


def test_a_record_of_the_wrong_shape_is_no_answer(tmp_path: Path) -> None:
    """Records are checked when looked up (not when loaded): any other shape is read again."""
    registry, store, index = _setup(tmp_path)
    plain = _list(registry, store, index)
    (backup,) = store.glob("*.bak")
    saved = json.loads(index.read_text())
    good = saved["entries"][backup.name]
    lying = list(good)  # what each bad record would say, if trusted
    lying[AT["verified"]] = False
    for bad in (
        [*lying, "extra"],  # too long
        [*lying, False],  # too long, and no agreement with the name
        lying[:-1],  # too short
        [float(good[0]), *lying[1:]],  # a stat that is not an int
        [
            *lying[:STATS],
            dict(zip(FIELDS, lying[STATS:], strict=True)),
        ],  # the fields as an object (/3)
        {"record": lying},  # not a list
    ):
        saved["entries"][backup.name] = bad
        index.write_text(json.dumps(saved))
        assert _list(registry, store, index) == plain  # the sidecar answered, verified
        assert json.loads(index.read_text())["entries"][backup.name] == good  # rewritten


def test_a_sidecar_written_just_now_is_not_remembered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review R5: on a file system with 1 s times, a sidecar rewritten in the second it was
    remembered, at the same size on the reused inode, kept matching its stale record (prune
    then deleted a backup a fresh read says must never be deleted). A sidecar changed within
    SETTLED_NS is read again next time instead."""
    monkeypatch.setattr(sidecarindex, "SETTLED_NS", 3_000_000_000)
    registry, store, index = _setup(tmp_path)
    _list(registry, store, index)
    assert not index.exists()  # nothing remembered yet: no index written
    (backup,) = store.glob("*.bak")
    side = sidecar_path(backup)
    past = os.stat(side).st_ctime_ns  # the ctime cannot be set back: the clock goes forward
    monkeypatch.setattr(sidecarindex, "now_ns", lambda: past + 3_000_000_000)
    _list(registry, store, index)
    assert list(json.loads(index.read_text())["entries"]) == [backup.name]  # settled: kept
