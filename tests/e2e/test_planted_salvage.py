"""Files another user can plant beside the registry during recover (issue 9, defect 3; found by
review after the first fixes): salvage's work files, a FIFO or a foreign file at the swap
intent's name."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.backups.conftest import corrupt
from tests.e2e.harness import command

STRACE = shutil.which("strace")
SQLITE3 = shutil.which("sqlite3")
NOBODY = 65534


def _damaged_registry_with_wal(tmp_path: Path) -> Path:
    """A registry in WAL mode with commits still in its -wal, then a damaged page; no backups."""
    reg = tmp_path / "team" / "registry.db"
    reg.parent.mkdir()
    conn = sqlite3.connect(reg, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")  # keep the last commits in the -wal
    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO items (payload) VALUES (?)", (("x" * 300,) for _ in range(400)))
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("INSERT INTO items (payload) VALUES ('in the wal')")
    # Copy the -wal aside before closing: the last close checkpoints and removes it.
    wal = Path(f"{reg}-wal")
    saved = wal.read_bytes()
    conn.close()
    corrupt(reg)
    wal.write_bytes(saved)
    return reg


def _recover(reg: Path, *, strace_log: Path | None = None) -> subprocess.CompletedProcess[str]:
    argv = [*command("zarchctl"), "recover", "--yes", "--local"]
    if strace_log is not None:
        argv = [str(STRACE), "-f", "-qq", "-e", "trace=openat", "-o", str(strace_log), *argv]
    env = {**os.environ, "ZARCH_REGISTRY": str(reg), "HOME": str(reg.parent.parent)}
    return subprocess.run(
        argv, capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL
    )


@pytest.mark.skipif(STRACE is None, reason="strace is not installed (it observes the opens)")
@pytest.mark.skipif(SQLITE3 is None, reason="the sqlite3 command is not installed (salvage)")
def test_salvage_creates_nothing_by_a_name_another_user_could_plant(tmp_path: Path) -> None:
    """Every file recover creates in the registry's directory is created exclusively (mkstemp)
    or inside salvage's private 0700 directory: no name another user could have planted as a
    symlink is ever opened for writing. (Salvage used to copy the -wal to `<temp>-wal` with
    shutil.copyfile, following a symlink planted there.)"""
    reg = _damaged_registry_with_wal(tmp_path)
    log = tmp_path / "strace.log"
    done = _recover(reg, strace_log=log)
    assert "salvaged" in done.stdout + done.stderr, done.stdout + done.stderr
    directory = re.escape(str(reg.parent))
    created = re.compile(rf'openat\([^,]+, "({directory}/[^"/]+)", ([A-Z_|]+)')
    unsafe = []
    for line in log.read_text().splitlines():
        m = created.search(line)
        if not m or "O_CREAT" not in m[2]:
            continue
        name, flags = Path(m[1]).name, m[2]
        if "O_EXCL" in flags or "O_NOFOLLOW" in flags:
            continue  # mkstemp's own file, or one opened without following a symlink
        unsafe.append((name, flags))
    assert unsafe == [], f"created by a name another user could plant: {unsafe}"


def test_a_fifo_at_the_swap_intent_name_does_not_hang_a_writer(tmp_path: Path) -> None:
    """Opening a FIFO for reading blocks until a writer appears: the intent is opened
    non-blocking, found not to be a regular file, and ignored."""
    reg = tmp_path / "reg" / "registry.db"
    reg.parent.mkdir()
    sqlite3.connect(reg).execute("CREATE TABLE t (x)").connection.close()
    os.mkfifo(reg.with_name(f".{reg.name}.zarchd-swap.json"))
    env = {**os.environ, "ZARCH_REGISTRY": str(reg), "HOME": str(tmp_path)}
    done = subprocess.run(
        [*command("zarchctl"), "backup", "--local"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert "written" in done.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a file owned by nobody")
def test_a_foreign_file_at_the_swap_intent_name_is_named_not_replaced(tmp_path: Path) -> None:
    reg = _damaged_registry_with_wal(tmp_path)
    intent = reg.with_name(f".{reg.name}.zarchd-swap.json")
    intent.write_text('{"planted": true}')
    os.chown(intent, NOBODY, NOBODY)
    done = _recover(reg)
    assert done.returncode == 1, done.stderr
    assert f"owner uid {NOBODY}" in done.stderr and "Traceback" not in done.stderr
    assert intent.read_text() == '{"planted": true}' and intent.stat().st_uid == NOBODY
    assert reg.exists(), "nothing was moved"
