"""Backups under concurrent writers, kill -9 mid-copy, and a full disk (RLIMIT_FSIZE)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from zarchd.backups import list_backups, take_backup
from zarchd.backups.files import sha256_file
from zarchd.backups.names import parse
from zarchd.db.registry import check_file

from .conftest import make_registry, max_id

ROOT = str(Path(__file__).resolve().parents[2])


def test_backups_while_another_process_commits(
    tmp_path: Path, wal: bool, writer: Callable[[Path], None]
) -> None:
    reg = make_registry(tmp_path / "registry.db", 2000, wal=wal)
    writer(reg)
    out = tmp_path / "backups"
    seen = []
    for _ in range(4):
        committed_before = max_id(reg)
        info = take_backup(reg, out)
        assert check_file(info.path, static=True) == ["ok"]
        assert max_id(info.path) >= committed_before
        seen.append(max_id(info.path))
        deadline = time.monotonic() + 20
        while max_id(reg) <= seen[-1]:  # the writer commits again before the next backup
            assert time.monotonic() < deadline, "the writer stopped committing"
            time.sleep(0.005)
    assert seen == sorted(seen) and seen[-1] > 2000  # the writer kept committing throughout
    assert len(list_backups(reg, out)) == 4


CRASHER = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[1])
    from pathlib import Path
    from zarchd.backups import take_backup
    print("ready", flush=True)
    while True:
        take_backup(Path(sys.argv[2]), Path(sys.argv[3]))
""")


def test_kill_9_at_any_moment_leaves_no_incomplete_backup(tmp_path: Path) -> None:
    reg = make_registry(tmp_path / "registry.db", 60000, payload=300)  # ~30 MB
    out = tmp_path / "backups"
    for delay in (0.05, 0.2, 0.37):
        proc = subprocess.Popen(
            [sys.executable, "-c", CRASHER, ROOT, str(reg), str(out)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    temps = [p for p in out.iterdir() if p.name.startswith(".zarchd-registry-")]
    assert temps  # at least one kill landed mid-copy and left its temp file (no backup name)
    named = [p for p in out.iterdir() if parse("registry", p.name)]
    for path in named:  # every file carrying a backup name is complete and described
        meta = json.loads(Path(str(path) + ".json").read_text())
        assert sha256_file(path) == meta["sha256"], path.name
        assert check_file(path, static=True) == ["ok"]
    assert all(b.ours for b in list_backups(reg, out))
    # and the next normal run still works
    assert take_backup(reg, out).verified is True


DISK_FULL = textwrap.dedent("""
    import json, resource, signal, sys
    sys.path.insert(0, sys.argv[1])
    from pathlib import Path
    from zarchd.backups import take_backup
    from zarchd.core.errors import ZarchError
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
    limit = int(sys.argv[4])
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    try:
        take_backup(Path(sys.argv[2]), Path(sys.argv[3]))
        print(json.dumps({"ok": True}))
    except ZarchError as exc:
        print(json.dumps({"error": type(exc).__name__, "message": exc.message}))
""")


def test_disk_full_gives_a_clear_error_and_keeps_old_backups(tmp_path: Path) -> None:
    reg = make_registry(tmp_path / "registry.db", 10000)  # a few MB
    out = tmp_path / "backups"
    old = take_backup(reg, out)
    old_bytes = old.path.read_bytes()
    limit = reg.stat().st_size // 2
    done = subprocess.run(
        [sys.executable, "-c", DISK_FULL, ROOT, str(reg), str(out), str(limit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    report = json.loads(done.stdout)
    assert report["error"] == "BackupError", done
    assert (
        "cannot write the backup" in report["message"]
        and "older backups are intact" in report["message"]
    )
    assert sorted(p.name for p in out.iterdir()) == sorted([old.name, old.name + ".json"])
    assert old.path.read_bytes() == old_bytes
