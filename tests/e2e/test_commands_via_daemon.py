"""Every zarchctl command through a real daemon: the same operations as --local, over the socket."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.e2e.harness import NAME, QUIET, Daemon, add_archive, command


@pytest.fixture
def daemon(registry_0005: Path, tmp_path: Path):
    with Daemon(tmp_path, registry_0005, config=QUIET) as d:
        d.start_with_backup()
        yield d


def count(registry: Path) -> int:
    return sqlite3.connect(registry).execute("SELECT count(*) FROM archives").fetchone()[0]


def test_backup_backups_verify_prune(daemon: Daemon) -> None:
    taken = daemon.json("backup")
    assert taken["skipped"] is False and NAME.match(taken["backup"]["name"])
    again = daemon.json("backup")  # by hand: always taken, even unchanged
    assert again["skipped"] is False and again["backup"]["name"] != taken["backup"]["name"]
    listing = daemon.json("backups")["backups"]
    names = [b["name"] for b in listing]
    assert taken["backup"]["name"] in names and len(names) == 3
    assert all(
        b["verified"] is True and b["schema_version"] == "0005_search_index" for b in listing
    )
    verify = daemon.json("verify")
    assert verify["bad"] == [] and len(verify["results"]) == 3
    one = daemon.json("verify", names[0])
    # identical backups (an unchanged registry) are one file: verify NAME judges its every name
    got = [r["name"] for r in one["results"]]
    assert names[0] in got and set(got) <= set(names)
    dry = daemon.json("prune", "--dry-run")
    assert dry["dry_run"] is True and all(d["keep"] for d in dry["decisions"])
    assert all(d["reasons"] for d in dry["decisions"])
    human = daemon.ctl("prune", "--dry-run")
    assert "keep" in human.stdout and "dry run" in human.stdout


def test_verify_names_a_tampered_backup_and_fails(daemon: Daemon) -> None:
    name = daemon.json("backup")["backup"]["name"]
    path = daemon.registry.parent / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    res = daemon.ctl("verify", check=False)
    assert res.returncode == 1
    assert name in res.stdout and name in res.stderr + res.stdout
    single = daemon.ctl("verify", name, check=False)
    assert single.returncode == 1


def test_restore_through_the_daemon(daemon: Daemon) -> None:
    before = daemon.json("backup")["backup"]["name"]
    add_archive(daemon.registry, 1)
    add_archive(daemon.registry, 2)
    assert count(daemon.registry) == 2
    res = daemon.json("restore", before, "--yes")
    assert res["restored"] == before and NAME.match(res["safety_backup"])
    assert count(daemon.registry) == 0
    safety = daemon.registry.parent / res["safety_backup"]
    assert sqlite3.connect(safety).execute("SELECT count(*) FROM archives").fetchone()[0] == 2
    for forged in ("../registry.db", str(daemon.registry), "nope.bak", "registry-1.bak/../x"):
        bad = daemon.ctl("restore", forged, "--yes", check=False)
        # not a backup name: bad usage (2); a well-formed name with no such backup: failed (1)
        assert bad.returncode == (1 if forged == "nope.bak" else 2), (forged, bad.stderr)
        assert "Traceback" not in bad.stderr


def test_recover_a_damaged_registry(daemon: Daemon) -> None:
    good = daemon.json("backup")["backup"]["name"]
    data = bytearray(daemon.registry.read_bytes())
    for offset in range(4096, len(data), 4096):  # wreck every page after the first
        data[offset + 8 : offset + 64] = b"\xde\xad" * 28
    daemon.registry.write_bytes(bytes(data))
    check = daemon.ctl("check", check=False)
    assert check.returncode == 1 and "recover" in check.stdout
    status = daemon.json("status")
    assert status["registry"]["integrity"] == "damaged"
    refused = daemon.ctl("backup", check=False)
    assert refused.returncode == 1 and "damaged" in refused.stderr
    res = daemon.json("recover", "--yes")
    assert res["restored"] == good
    assert Path(res["corrupted_saved_as"]).exists()
    assert daemon.json("check")["ok"] is True


def test_migrate_rollback_and_check_through_the_daemon(daemon: Daemon) -> None:
    dry = daemon.json("migrate", "--dry-run")
    assert dry["pending"] == []
    back = daemon.json("rollback", "--to", "0004_query_system")
    assert [r["id"] for r in back["reverted"]] == ["0005_search_index"]
    assert daemon.json("status")["registry"]["pending"] == [
        {"id": "0005_search_index", "name": "Add search_index table for full-text search support"}
    ]
    dry = daemon.json("migrate", "--dry-run")
    assert [p["id"] for p in dry["pending"]] == ["0005_search_index"]
    assert "search_index" in dry["pending"][0]["sql"]
    only = daemon.json("migrate", "--backup-only")
    assert only["applied"] == [] and NAME.match(only["backup"]["name"])
    applied = daemon.json("migrate")
    assert [a["id"] for a in applied["applied"]] == ["0005_search_index"]
    assert daemon.json("check")["ok"] is True


def test_progress_lines_when_not_a_terminal_and_none_with_json(daemon: Daemon) -> None:
    plain = daemon.ctl("backup")
    assert plain.stdout.startswith("backup registry-")
    # The stage reports crossed the socket: one plain line as each stage starts and ends.
    for stage in ("copy", "check"):
        assert f"] {stage} started" in plain.stderr, plain.stderr
    assert "\r" not in plain.stderr
    machine = daemon.ctl("backup", "--json")
    assert machine.stderr == "" and json.loads(machine.stdout)["skipped"] is False


def test_human_status_at_a_glance(daemon: Daemon) -> None:
    out = daemon.ctl("status").stdout
    for needle in (
        "daemon     running",
        "integrity ok",
        "0005_search_index",
        "5 applied, 0 pending",
        "newest",
        "verified",
        "next",
        "retention",
        "last error",
    ):
        assert needle in out, needle


def test_daemon_only_commands_have_no_local_form(daemon: Daemon) -> None:
    res = daemon.ctl("ping", check=False)
    assert res.returncode == 0
    local = subprocess.run(
        [*command("zarchctl"), "pause", "--local"], capture_output=True, text=True, timeout=30
    )
    assert local.returncode == 2  # typer: no such option


def test_real_prune_through_the_daemon_deletes_backup_and_metadata(
    registry_0005: Path, tmp_path: Path
) -> None:
    policy = (
        "[retention]\nkeep_last = 1\nkeep_hourly = 0\nkeep_daily = 0\nkeep_weekly = 0\n"
        "keep_monthly = 0\nkeep_yearly = 0\n"
    )
    foreign = registry_0005.parent / "registry-20200101-000000.bak"  # as 7zarch-go makes them
    foreign.write_bytes(registry_0005.read_bytes())
    with Daemon(tmp_path, registry_0005, config=QUIET + policy) as d:
        d.start_with_backup()
        assert len(d.json("backups")["backups"]) == 2  # 7zarch-go's and the catch-up
        names = [d.json("backup")["backup"]["name"] for _ in range(3)]
        result = d.json("prune")
        newest = names[-1]  # taken last (a `-1` suffix sorts before the plain name)
        assert newest not in result["deleted"] and set(names[:-1]) <= set(result["deleted"])
        assert len(result["deleted"]) == 3, "the catch-up backup goes too"
        assert foreign.name not in result["deleted"]
        left = sorted(p.name for p in registry_0005.parent.iterdir() if NAME.match(p.name))
        assert newest in left and foreign.name in left
        for gone in result["deleted"]:
            assert not (registry_0005.parent / gone).exists()
            assert not (registry_0005.parent / f"{gone}.json").exists()
        assert (registry_0005.parent / f"{newest}.json").exists()
