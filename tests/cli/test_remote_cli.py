"""Off-site copies from the user's side: `remote list|fleet`, `restore --from`, recover's fallback.

"Machine A" takes a backup and sends it (RemoteTarget.upload) to a remote that is a plain
directory (rclone's local backend); "machine B" is a fresh HOME with nothing but a config: no
registry, no backup directory, no daemon. The loopback SFTP/WebDAV/S3 servers are in
tests/remote/test_restore_servers.py.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import FIXTURE_0005, archive_rows, corrupt, tamper
from tests.inprocess import iter_short_dir
from zarchd.backups import names, take_backup
from zarchd.backups.meta import read_sidecar
from zarchd.cli import render
from zarchd.cli.zarchctl import app
from zarchd.core.config import RemoteConfig, load_config
from zarchd.remote.target import RemoteTarget, local_host

pytestmark = pytest.mark.skipif(
    shutil.which("rclone") is None, reason="needs the rclone binary (apt install rclone)"
)


def _config(root: Path, registry: Path, target: str, extra: str = "") -> Path:
    path = root / "zarchd.toml"
    path.write_text(
        f'[registry]\npath = "{registry}"\n[control]\nsocket = "{root / "ctl.sock"}"\n'
        f'[[remote]]\nname = "off"\ntarget = "{target}"\n' + extra
    )
    return path


def _fill(registry: Path, rows: int) -> None:
    """A copy of 7zarch-go's registry holding `rows` archives."""
    shutil.copyfile(FIXTURE_0005, registry)
    conn = sqlite3.connect(registry)
    conn.executemany(
        "INSERT INTO archives (uid, name, path, size, created) VALUES (?, ?, ?, 1, '2026-01-01')",
        [(f"u{i}", f"a{i}.7z", f"/x/a{i}.7z") for i in range(rows)],
    )
    conn.commit()
    conn.close()


def send_backup(root: Path, target: str, rows: int = 3) -> tuple[str, Path]:
    """Machine A: a registry with `rows` archives, a verified backup of it, sent to the remote.
    (name, registry)."""
    registry = root / "a" / "registry.db"
    registry.parent.mkdir(parents=True)
    _fill(registry, rows)
    cfg = load_config(_config(root / "a", registry, target))
    return _send(registry, cfg.remotes[0]), registry


def _send(registry: Path, remote: RemoteConfig) -> str:
    info = take_backup(registry, registry.parent)
    meta = read_sidecar(info.path)
    assert meta is not None
    RemoteTarget(remote, None, "registry").upload(info.path, info.name, meta)
    return info.name


def send_backup_to(root: Path, remote: RemoteConfig) -> tuple[str, Path]:
    """Machine A with 3 archives, its backup sent to `remote` (a loopback server)."""
    registry = root / "a" / "registry.db"
    registry.parent.mkdir(parents=True)
    _fill(registry, 3)
    return _send(registry, remote), registry


Sent = tuple[Path, str, Path]  # (remote dir, backup name, machine A's registry)


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    """Machine A's backup on a directory remote, made once: (remote dir, name, A's registry)."""
    base = tmp_path_factory.mktemp("machine-a")
    with pytest.MonkeyPatch.context() as mp:  # rclone reads no real home
        mp.setenv("HOME", str(base))
        mp.setenv("RCLONE_CONFIG", str(base / "rclone.conf"))
        name, registry = send_backup(base, str(base / "remote"))
    return base / "remote", name, registry


@pytest.fixture
def root() -> Path:
    yield from iter_short_dir()


@pytest.fixture
def remote_copy(root: Path, sent: tuple[Path, str, Path]) -> tuple[Path, str, Path]:
    """This test's own copy of the remote (it may damage it): (remote dir, name, A's registry)."""
    shutil.copytree(sent[0], root / "remote")
    return root / "remote", sent[1], sent[2]


@pytest.fixture
def machine_b(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh HOME: only a config; the registry's directory does not exist."""
    home = root / "home-b"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    return home


def _run(*args: str) -> tuple[int, str, str]:
    done = CliRunner().invoke(app, list(args))
    return done.exit_code, done.stdout, done.stderr


def test_restore_latest_on_a_new_machine_without_a_daemon(
    machine_b: Path, remote_copy: Sent
) -> None:
    remote, name, reg_a = remote_copy
    registry = machine_b / "data" / "7zarch" / "registry.db"
    cfg = _config(machine_b, registry, str(remote))
    code, out, err = _run("restore", "--from", "off", "latest", "--yes", "--config", str(cfg))
    assert code == 0, err
    assert f"restored {name} from remote off" in out
    assert archive_rows(registry) == archive_rows(reg_a)
    assert stat.S_IMODE(registry.parent.stat().st_mode) == 0o700
    # nothing of the download is left: no work directory, no temp file
    assert sorted(p.name for p in registry.parent.iterdir() if not p.name.endswith(".lock")) == [
        "registry.db"
    ]


def test_restore_over_a_registry_takes_a_safety_backup(machine_b: Path, remote_copy: Sent) -> None:
    remote, name, _ = remote_copy
    registry = machine_b / "reg" / "registry.db"
    registry.parent.mkdir()
    shutil.copyfile(FIXTURE_0005, registry)
    before = archive_rows(registry)
    cfg = _config(machine_b, registry, str(remote))
    code, out, err = _run("restore", "--from", "off", name, "--yes", "--config", str(cfg), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["restored"] == name and result["remote"] == "off"
    assert archive_rows(registry) == 3 != before
    safety = registry.parent / result["safety_backup"]
    assert archive_rows(safety) == before


def test_restore_to_a_new_file_leaves_the_registry(machine_b: Path, remote_copy: Sent) -> None:
    remote, name, reg_a = remote_copy
    registry = machine_b / "reg" / "registry.db"
    cfg = _config(machine_b, registry, str(remote))
    dest = machine_b / "out" / "copy.db"
    # a mistyped directory is refused, and not made
    code, _, err = _run("restore", "--from", "off", name, "--to", str(dest), "--config", str(cfg))
    assert code == 2 and "does not exist" in err and not dest.parent.exists(), err
    dest.parent.mkdir()
    code, out, err = _run("restore", "--from", "off", name, "--to", str(dest), "--config", str(cfg))
    assert code == 0, err
    assert f"into {dest}" in out
    assert archive_rows(dest) == archive_rows(reg_a) and stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert not registry.parent.exists()  # --to makes nothing of the registry's
    code, out, err = _run("log", "--json", "--config", str(cfg))
    assert code == 0 and '"restore"' not in out, out  # a copy elsewhere is no restore job
    # never over an existing file
    code, _, err = _run("restore", "--from", "off", name, "--to", str(dest), "--config", str(cfg))
    assert code == 2 and "already exists" in err


def test_a_corrupted_remote_copy_is_refused_and_nothing_swapped(
    machine_b: Path, remote_copy: Sent
) -> None:
    remote, name, _ = remote_copy
    (copy,) = list(remote.rglob(name))
    tamper(copy)  # bit rot on the remote: same size, sha256 differs
    registry = machine_b / "reg" / "registry.db"
    registry.parent.mkdir()
    shutil.copyfile(FIXTURE_0005, registry)
    before = registry.read_bytes()
    cfg = _config(machine_b, registry, str(remote))
    code, _, err = _run("restore", "--from", "off", "latest", "--yes", "--config", str(cfg))
    assert code == 1
    assert "sha256 does not match" in err and "nothing was changed" in err
    assert "remote off" in err
    assert registry.read_bytes() == before
    assert sorted(p.name for p in registry.parent.iterdir() if not p.name.endswith(".lock")) == [
        "registry.db"
    ]


def test_remote_list_and_fleet(machine_b: Path, remote_copy: Sent) -> None:
    remote, name, _ = remote_copy
    here = remote / local_host() / "registry"
    # a copy whose upload never finished (no sidecar)
    half = here / "registry-20200101-000000-zarchd.bak"
    half.write_bytes(b"partial")
    # another machine's registry in the same bucket, its newest copy sent long ago
    desk = remote / "desk" / "registry"
    desk.mkdir(parents=True)
    for file in (name, name + ".json"):
        shutil.copy2(here / file, desk / file)
    os.utime(desk / (name + ".json"), (1_000_000_000, 1_000_000_000))
    cfg = _config(machine_b, machine_b / "r" / "registry.db", str(remote), 'max_age = "1h"\n')
    code, out, err = _run("remote", "list", "--config", str(cfg), "--json")
    assert code == 0, err
    listed = json.loads(out)
    (entry,) = listed["remotes"]
    assert entry["prefix"] == f"{local_host()}/registry/"
    copies = {c["name"]: c for c in entry["copies"]}
    assert copies[name]["complete"] and copies[name]["verified"]
    assert not copies[half.name]["complete"]
    assert copies[name]["created_at"][-6] in "+-"  # local time with its offset
    shown = render.render("remote list", listed)
    assert name in shown and "INCOMPLETE" in shown

    code, out, err = _run("remote", "fleet", "off", "--config", str(cfg), "--json")
    assert code == 1, err  # a stale prefix
    fleet = json.loads(out)
    prefixes = {p["host"]: p for p in fleet["remotes"][0]["prefixes"]}
    assert set(prefixes) == {"desk", local_host()}
    assert prefixes[local_host()]["newest"] == name and not prefixes[local_host()]["stale"]
    assert prefixes["desk"]["stale"] and prefixes["desk"]["age_s"] > 3600
    shown = render.render("remote fleet", fleet)
    assert "STALE desk/registry/" in shown.replace("  ", " ")


def test_unknown_unreachable_and_empty_remotes_are_clear(root: Path, machine_b: Path) -> None:
    cfg = _config(machine_b, machine_b / "r" / "registry.db", str(root / "empty"))
    code, _, err = _run("restore", "--from", "nope", "latest", "--yes", "--config", str(cfg))
    assert code == 2 and "no remote named 'nope'" in err and "off" in err
    code, _, err = _run(
        "restore", "--from", "off", "latest", "--host", "other", "--yes", "--config", str(cfg)
    )
    assert code == 1 and "no complete copy" in err
    code, _, err = _run("restore", "x.bak", "--host", "other", "--yes", "--config", str(cfg))
    assert code == 2 and "--host goes with --from" in err
    code, _, err = _run(
        "restore", "x.bak", "--to", str(root / "x.db"), "--local", "--config", str(cfg)
    )
    # --to without --from restores a local backup: here is no registry and none ever was
    assert code == 1 and "does not exist" in err and not (root / "x.db").exists(), err
    bad = _config(machine_b, machine_b / "r" / "registry.db", "nosuchremote:bucket")
    code, out, err = _run("remote", "list", "--config", str(bad))
    assert code == 1 and "cannot read it" in out, err


def test_recover_falls_back_to_the_remote(machine_b: Path, remote_copy: Sent) -> None:
    remote, name, reg_a = remote_copy
    registry = machine_b / "reg" / "registry.db"
    registry.parent.mkdir()
    _fill(registry, 400)
    corrupt(registry)  # and no local backup at all
    newer = _damaged_newer_copy(remote, name)  # the newest remote copy is bad: skipped
    cfg = _config(machine_b, registry, str(remote))
    code, out, err = _run("recover", "--yes", "--local", "--config", str(cfg), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["restored"] == f"{name} (from remote off)"
    assert [s["name"].split(" ")[0] for s in result["skipped"]] == [newer]
    assert "sha256" in result["skipped"][0]["problems"][0]
    assert archive_rows(registry) == archive_rows(reg_a)
    assert any(p.name.startswith("registry.db.corrupted-") for p in registry.parent.iterdir())
    assert not [p for p in registry.parent.iterdir() if p.name.startswith(".zarchd-fetch-")]


def _damaged_newer_copy(remote: Path, name: str) -> str:
    """A complete copy an hour newer than `name` on the remote, its bytes rotted."""
    (copy,) = remote.rglob(name)
    meta = json.loads(Path(f"{copy}.json").read_text())
    parsed = names.parse("registry", name)
    assert parsed is not None
    newer = f"registry-{parsed.local_time + timedelta(hours=1):%Y%m%d-%H%M%S}-zarchd.bak"
    created = datetime.fromisoformat(meta["created_at"]) + timedelta(hours=1)
    meta.update(name=newer, created_at=created.isoformat())
    shutil.copyfile(copy, copy.with_name(newer))
    tamper(copy.with_name(newer))
    copy.with_name(newer + ".json").write_text(json.dumps(meta))
    return newer


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_a_fetched_copy_is_fsynced_before_it_is_linked_into_place(
    machine_b: Path, remote_copy: Sent
) -> None:
    """rclone never fsyncs what it downloads: zarchd does, before the link() that publishes it
    (review finding, 2026-11-29). Observed with strace -y on a real zarchctl."""
    import os
    import subprocess

    from tests.backups.test_durability import CALL, STRACE, fd_path, joined
    from tests.e2e.harness import command

    remote, name, _ = remote_copy
    cfg = _config(machine_b, machine_b / "reg" / "registry.db", str(remote))
    dest = machine_b / "copy.db"
    log = machine_b / "strace.txt"
    argv = ["restore", "--from", "off", name, "--to", str(dest), "--config", str(cfg)]
    res = subprocess.run(
        [*STRACE, "-o", str(log), *command("zarchctl"), *argv],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    if res.returncode != 0 and "ptrace" in res.stderr:
        pytest.skip(f"strace cannot trace here: {res.stderr.strip()}")
    assert res.returncode == 0, res.stderr
    calls = [m.groups() for ln in joined(log.read_text().splitlines()) if (m := CALL.match(ln))]
    links = [i for i, (call, args, _) in enumerate(calls) if call.startswith("link")]
    published = next(i for i in links if str(dest) in calls[i][1])
    held = f"/{name}"
    synced = [
        i
        for i, (call, args, rc) in enumerate(calls[:published])
        if call in ("fsync", "fdatasync") and rc == "0" and fd_path(args).endswith(held)
    ]
    assert synced, "the fetched copy was linked into place without an fsync"
