"""`zarchd run` and `zarchctl` in directories others could write (issue 9, defects 8, 9, 11)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.harness import QUIET, Daemon, command, wait_for

NOBODY = 65534


def _run(d: Daemon) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command("zarchd"), "run", "--config", str(d.config)],
        capture_output=True,
        text=True,
        timeout=60,
        env=d.env,
    )


def test_a_world_writable_backup_dir_stops_start_up_and_local_writes(
    registry_0005: Path, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    d = Daemon(tmp_path, registry_0005, config=QUIET + f'dir = "{shared}"\n')
    run = _run(d)
    assert run.returncode == 2, run
    assert f"chmod go-w {shared}" in run.stderr and "Traceback" not in run.stderr
    res = d.ctl("backup", "--local", check=False)
    assert res.returncode == 2 and f"chmod go-w {shared}" in res.stderr, res
    assert list(shared.iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a directory to nobody")
def test_a_socket_directory_of_another_user_stops_start_up(
    registry_0005: Path, tmp_path: Path
) -> None:
    d = Daemon(tmp_path, registry_0005, config=QUIET)
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, NOBODY, NOBODY)
    d.socket = theirs / "ctl.sock"
    d.config.write_text(
        f'[registry]\npath = "{registry_0005}"\n[control]\nsocket = "{d.socket}"\n' + QUIET
    )
    run = _run(d)
    assert run.returncode == 2, run
    assert str(theirs) in run.stderr and f"uid {NOBODY}" in run.stderr
    assert not d.socket.exists()


def test_the_daemon_removes_orphan_sidecars_at_start(registry_0005: Path, tmp_path: Path) -> None:
    with Daemon(tmp_path, registry_0005, config=QUIET) as d:
        d.start()
        name = d.json("backup")["backup"]["name"]
        d.stop()
    backup = registry_0005.with_name(name)
    backup.unlink()  # as a kill -9 between the sidecar and the link leaves it
    sidecar = registry_0005.with_name(name + ".json")
    assert json.loads(sidecar.read_text())["name"] == name
    with Daemon(tmp_path, registry_0005, config=QUIET) as d:
        d.start()
        wait_for(lambda: "its backup is gone" in d.log_text(), what="the orphan to be removed")
        assert not sidecar.exists()
