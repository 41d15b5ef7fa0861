"""A registry passes between the real 7zarch-go and zarchd, both ways (issue 10)."""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import make_baseline_registry
from tests.e2e.harness import OUR_NAME, Daemon, ctl, sha, wait_for
from zarchd.app.operations import Operations
from zarchd.core.config import load_config

from .conftest import SevenZarch

# Real zarchctl and zarchd run processes beside the real 7zarch-go.
pytestmark = pytest.mark.e2e

GO_BACKUP = re.compile(r"^registry-(\d{8}-\d{6})\.bak$")


def _ctl_json(registry: Path, *args: str) -> dict:
    res = ctl(registry, *args, "--local", "--json")
    assert res.returncode == 0, res.stderr + res.stdout
    return json.loads(res.stdout)


def _source(tmp_path: Path, name: str) -> Path:
    src = tmp_path / name
    src.mkdir()
    (src / "file.txt").write_text(f"contents of {name}\n")
    return src


def _names(registry: Path) -> set[str]:
    conn = sqlite3.connect(f"file:{registry}?mode=ro", uri=True)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM archives")}
    finally:
        conn.close()


def test_adopts_a_registry_7zarch_go_created(
    go7z: SevenZarch, seven_z: str, tmp_path: Path
) -> None:
    go7z.run("create", str(_source(tmp_path, "photos")))
    before = sha(go7z.registry)
    reg = _ctl_json(go7z.registry, "status")["registry"]
    assert reg["schema_version"] == "0005_search_index" and reg["pending"] == []
    assert reg["schema_drift"] == [] and reg["unknown"] == []
    _ctl_json(go7z.registry, "migrate")
    assert ctl(go7z.registry, "check", "--local").returncode == 0
    assert sha(go7z.registry) == before  # adopted byte for byte
    assert list(go7z.list_ids().values()) == ["photos.7z"]


def test_upgraded_old_registry_works_with_every_7zarch_go_command(
    go7z: SevenZarch, seven_z: str, tmp_path: Path
) -> None:
    make_baseline_registry(go7z.registry, rows=24)  # NULLs in checksum, destination, metadata
    files = tmp_path / "files"
    files.mkdir()
    conn = sqlite3.connect(go7z.registry)
    with conn:  # real files (delete moves one to the trash); half the rows in one millisecond
        for (rowid,) in conn.execute("SELECT id FROM archives").fetchall():
            path = files / f"archive-{rowid}.7z"
            path.write_bytes(b"7z" * rowid)
            conn.execute(
                "UPDATE archives SET path = ?, created = CASE WHEN id % 2 = 0 THEN "
                "'2024-05-01 12:00:00' ELSE created END WHERE id = ?",
                (str(path), rowid),
            )
    conn.close()
    result = _ctl_json(go7z.registry, "migrate")
    assert result["schema_version"] == "0005_search_index" and result["backup"]

    ids = go7z.list_ids()
    assert len(ids) == 24 and set(ids.values()) == _names(go7z.registry)
    for short_id, name in ids.items():  # every ID `list` prints resolves with `show`
        shown = go7z.run("show", short_id)
        assert name in shown.stdout
    assert "archive-000003.7z" in go7z.run("search", "query", "000003").stdout
    victim = next(i for i, n in ids.items() if n == "archive-000004.7z")
    go7z.run("delete", victim)
    assert victim not in go7z.list_ids()
    assert "archive-000004.7z" in go7z.run("list", "--deleted").stdout
    go7z.run("restore", victim)
    assert go7z.list_ids()[victim] == "archive-000004.7z"
    go7z.run("create", str(_source(tmp_path, "new")))
    assert "Schema Version: 0005_search_index" in go7z.run("db", "status").stdout
    go7z.run("db", "migrate")
    assert len(go7z.list_ids()) == 25
    assert ctl(go7z.registry, "check", "--local").returncode == 0


def test_same_second_backups_from_both_stay_apart(go7z: SevenZarch) -> None:
    go7z.run("db", "status")  # creates the registry
    # zarchctl's own configuration (same environment), in-process for its clock: ours is named
    # for the next second, and 7zarch-go runs at that second's start, with all of it to spare.
    config = load_config(None, {**os.environ, "ZARCH_REGISTRY": str(go7z.registry)})
    for _ in range(5):  # a second's room for one Go process start; retried all the same
        second = math.floor(time.time()) + 1
        at = datetime.fromtimestamp(second, UTC)
        ours = Operations(config, now=lambda at=at: at).backup(reason="test")["backup"]["name"]
        wait_for(lambda s=second: time.time() >= s, timeout=5, interval=0.005, what="that second")
        go7z.run("db", "backup")
        theirs = sorted(p.name for p in go7z.registry.parent.iterdir() if GO_BACKUP.match(p.name))
        if ours.startswith(f"registry-{GO_BACKUP.match(theirs[-1])[1]}-"):
            break
    else:
        raise AssertionError(f"never in one second: {ours}, {theirs}")
    assert OUR_NAME.match(ours)
    theirs_path = go7z.registry.parent / theirs[-1]
    their_sha = sha(theirs_path)
    listed = {b["name"]: b for b in _ctl_json(go7z.registry, "backups")["backups"]}
    assert listed[ours]["ours"] and listed[ours]["verified"]
    assert listed[theirs[-1]]["ours"] is False
    assert ctl(go7z.registry, "verify", "--local").returncode == 0
    pruned = _ctl_json(go7z.registry, "prune")
    assert theirs[-1] not in pruned["deleted"]
    assert sha(theirs_path) == their_sha  # 7zarch-go's file untouched


def test_daemon_backs_up_a_burst_of_7zarch_go_writes(
    go7z: SevenZarch, seven_z: str, tmp_path: Path
) -> None:
    go7z.run("db", "status")
    config = '[backup]\ninterval = "1h"\non_change = true\ndebounce = "1s"\n'
    (tmp_path / "d").mkdir()
    with Daemon(tmp_path / "d", go7z.registry, config=config) as d:
        d.start()
        for n in range(5):  # each must succeed while the daemon watches and backs up
            go7z.run("create", str(_source(tmp_path, f"burst{n}")))

        def backup_with_all() -> bool:
            for b in d.json("backups")["backups"]:
                if b["ours"] and len(_names(Path(b["path"]))) == 5:
                    return True
            return False

        wait_for(backup_with_all, timeout=30, interval=0.2, what="a backup holding all 5 writes")
    assert len(go7z.list_ids()) == 5


def test_a_restore_7zarch_go_then_reads(go7z: SevenZarch, seven_z: str, tmp_path: Path) -> None:
    for name in ("one", "two"):
        go7z.run("create", str(_source(tmp_path, name)))
    backup = _ctl_json(go7z.registry, "backup")["backup"]["name"]
    go7z.run("create", str(_source(tmp_path, "three")))
    res = ctl(go7z.registry, "restore", backup, "--local", "--yes")
    assert res.returncode == 0, res.stderr
    ids = go7z.list_ids()
    assert sorted(ids.values()) == ["one.7z", "two.7z"]
    for short_id in ids:
        go7z.run("show", short_id)


def test_repair_makes_a_registry_an_older_zarchd_upgraded_readable(
    go7z: SevenZarch, tmp_path: Path
) -> None:
    go7z.run("db", "status")
    conn = sqlite3.connect(go7z.registry)  # rows as an older zarchd's upgrade left them: NULLs
    with conn:
        conn.execute(
            "INSERT INTO archives (uid, name, path, size, created) VALUES "
            "('01HKCH8QM06P0000000000000A', 'old.7z', '/x/old.7z', 1, "
            "'2024-01-01 00:00:00')"
        )
    conn.close()
    assert go7z.run("list", check=False).returncode != 0  # "converting NULL to string"
    assert ctl(go7z.registry, "repair", "--local").returncode == 0
    assert list(go7z.list_ids().values()) == ["old.7z"]
