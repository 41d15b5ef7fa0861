"""Issue 9, defects 1, 2 and 5 end to end: a recovery killed mid-swap is finished by the next
start, a missing registry that had backups is never recreated empty, and recover never moves a
registry another process has open for writing."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.backups.conftest import make_registry, max_id
from tests.conftest import corrupt

from .harness import Daemon, ctl, wait_for

STRACE = shutil.which("strace")


def _registry_with_backup(tmp_path: Path, rows: int = 300) -> Path:
    reg = make_registry(tmp_path / "reg" / "registry.db", rows)
    done = ctl(reg, "backup", "--local")
    assert done.returncode == 0, done.stderr
    return reg


# strace kills the process (SIGKILL) at its first link(): the moment put_in_place publishes
# the prepared copy, after the damaged registry was set aside. No hook in zarchd itself.
KILL_AT_LINK = ("-f", "-qq", "-o", "/dev/null", "-e", "trace=link", "-e", "inject=link:signal=KILL")


def _ctl_local(reg: Path, *args: str, strace: bool = False) -> subprocess.CompletedProcess[str]:
    prefix = [str(STRACE), *KILL_AT_LINK] if strace else []
    return ctl(reg, *args, "--local", prefix=prefix)


def _killed_mid_swap(tmp_path: Path) -> Path:
    if STRACE is None:
        pytest.skip("strace is not installed (needed to SIGKILL recover at the exact moment)")
    reg = _registry_with_backup(tmp_path)
    corrupt(reg)
    killed = _ctl_local(reg, "recover", "--yes", strace=True)
    assert killed.returncode in (-9, 137), (killed.returncode, killed.stderr)
    assert not reg.exists()  # the dangerous moment: set aside, replacement not yet in place
    assert list(reg.parent.glob("registry.db.corrupted-*"))
    return reg


def test_recovery_killed_mid_swap_is_finished_by_the_next_daemon_start(tmp_path: Path) -> None:
    reg = _killed_mid_swap(tmp_path)
    with Daemon(tmp_path, reg) as daemon:
        daemon.start()
        assert reg.exists()
        status = daemon.json("status")
        assert status["registry"]["integrity"] == "ok"
    assert max_id(reg) == 300  # the backup's data, not a new empty registry
    assert "finished an interrupted recovery" in daemon.log_text()
    assert not list(reg.parent.glob(".zarchd-restore-*"))  # the prepared copy became the registry


def test_recovery_killed_mid_swap_is_finished_by_recover(tmp_path: Path) -> None:
    reg = _killed_mid_swap(tmp_path)
    done = _ctl_local(reg, "recover", "--yes")
    assert done.returncode == 0, done.stderr
    assert "finished an interrupted recovery" in done.stdout + done.stderr
    assert max_id(reg) == 300
    conn = sqlite3.connect(reg)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_missing_registry_with_backups_is_reported_not_recreated(tmp_path: Path) -> None:
    reg = _registry_with_backup(tmp_path)
    reg.unlink()
    with Daemon(tmp_path, reg) as daemon:
        daemon.start()
        assert not reg.exists()  # not created empty over the user's history
        status = daemon.json("status")
        assert status["registry"]["exists"] is False
        assert "missing" in (status["registry"].get("problem") or "")
        assert "recover" in daemon.ctl("status").stdout
        wait_for(lambda: "is missing" in daemon.log_text(), what="the log to say it is missing")
        done = daemon.ctl("recover", "--yes")
        assert "restored registry-" in done.stdout
    assert max_id(reg) == 300


def test_registry_is_still_created_when_none_ever_existed_and_the_config_allows_it(
    tmp_path: Path,
) -> None:
    reg = tmp_path / "fresh" / "registry.db"
    with Daemon(tmp_path, reg) as daemon:
        line = f'path = "{reg}"\n'
        daemon.config.write_text(daemon.config.read_text().replace(line, line + "create = true\n"))
        daemon.start()
        assert reg.exists()


WRITER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)  # read-write, as 7zarch-go opens it
try:
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
except sqlite3.DatabaseError:
    pass  # damaged: the descriptor stays open all the same
print("open", flush=True)
time.sleep(60)
"""


def test_recover_refuses_while_another_process_has_the_registry_open_for_writing(
    tmp_path: Path,
) -> None:
    reg = _registry_with_backup(tmp_path)
    corrupt(reg)
    before = reg.read_bytes()
    holder = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(reg)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        done = _ctl_local(reg, "recover", "--yes")
        assert done.returncode == 1, done.stdout
        assert f"pid {holder.pid}" in done.stderr and "python" in done.stderr
        assert reg.read_bytes() == before
        assert not list(reg.parent.glob("registry.db.corrupted-*"))
    finally:
        holder.kill()
        holder.wait()
    done = _ctl_local(reg, "recover", "--yes")  # once it is gone, recover goes ahead
    assert done.returncode == 0, done.stderr
    assert max_id(reg) == 300
