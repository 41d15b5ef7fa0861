"""A backup is durable before it has a name, and its name is durable before zarchd says "written".

Observed, not mocked: `strace -y` on a real `zarchctl backup --local` shows which file each
fsync reached and in which order, relative to the link() that publishes the backup.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import make_baseline_registry
from tests.e2e.harness import command

pytestmark = pytest.mark.skipif(
    shutil.which("strace") is None, reason="strace is not installed (apt-get install strace)"
)

# `1234 fsync(4</dir/file>) = 0` with -y; the pid prefix comes from -f.
CALL = re.compile(r"^(?:\d+\s+)?(\w+)\((.*)\)\s+=\s+(-?\d+)")
STRACE = ["strace", "-f", "-y", "-qq", "-e", "trace=fsync,fdatasync,link,linkat,openat,close"]
FD_PATH = re.compile(r"^\d+<(.*)>$")


Call = tuple[str, str, str]  # (syscall, argument text, result)


def traced_backup(tmp_path: Path) -> tuple[Path, list[Call]]:
    """(backup dir, calls) of one successful `zarchctl backup --local`."""
    registry = make_baseline_registry(tmp_path / "reg" / "registry.db", rows=200)
    log = tmp_path / "strace.txt"
    res = subprocess.run(
        [*STRACE, "-o", str(log), *command("zarchctl"), "backup", "--local"],
        capture_output=True,
        text=True,
        env={**os.environ, "ZARCH_REGISTRY": str(registry)},
        timeout=120,
    )
    if res.returncode != 0 and "ptrace" in res.stderr:
        pytest.skip(f"strace cannot trace here: {res.stderr.strip()}")
    assert res.returncode == 0, res.stderr
    calls = []
    for line in joined(log.read_text().splitlines()):
        m = CALL.match(line)
        if m and m.group(3) != "-1":
            calls.append((m.group(1), m.group(2), m.group(3)))
    return registry.parent, calls


UNFINISHED = re.compile(r"^(\d+)\s+(.*) <unfinished \.\.\.>$")
RESUMED = re.compile(r"^(\d+)\s+<\.\.\. \w+ resumed>(.*)$")


def joined(lines: list[str]) -> list[str]:
    """strace -f splits a call that another thread interrupted into `<unfinished ...>` and
    `<... resumed>` lines (zarchd fsyncs and hashes a copy in parallel threads): one line each."""
    pending: dict[str, str] = {}
    out = []
    for line in lines:
        if m := UNFINISHED.match(line):
            pending[m.group(1)] = m.group(2)
        elif (m := RESUMED.match(line)) and m.group(1) in pending:
            out.append(f"{m.group(1)} {pending.pop(m.group(1))}{m.group(2)}")
        else:
            out.append(line)
    return out


def fd_path(args: str) -> str:
    m = FD_PATH.match(args.split(",")[0].strip())
    return m.group(1) if m else ""


def link_index(calls: list[Call], backup_dir: Path) -> tuple[int, str]:
    """Index of the link() that published the backup, and the temp file it linked."""
    for i, (name, args, _res) in enumerate(calls):
        if name in ("link", "linkat") and re.search(r'\.bak\.tmp"', args):
            tmp = re.findall(r'"([^"]+)"', args)[0]
            return i, tmp if tmp.startswith("/") else str(backup_dir / tmp)
    raise AssertionError(f"no link() of a .bak.tmp file in the trace: {calls[-40:]}")


def test_backup_copy_is_fsynced_before_it_is_linked(tmp_path: Path) -> None:
    backup_dir, calls = traced_backup(tmp_path)
    link_at, tmp = link_index(calls, backup_dir)
    # SQLite's VACUUM INTO writes the copy through its own descriptor and may fdatasync it;
    # zarchd's own fsync comes after SQLite closed it (the copy is complete) and before link.
    opened = [
        (i, res)
        for i, (name, args, res) in enumerate(calls)
        if name == "openat" and f'"{tmp}"' in args and "O_RDWR" in args and "O_EXCL" not in args
    ]
    assert opened, f"SQLite never opened {tmp} for writing: {calls[-60:]}"
    sqlite_open, fd = opened[0]
    writes_done = next(
        i
        for i, (name, args, _res) in enumerate(calls)
        if i > sqlite_open and name == "close" and args.startswith(f"{fd}<{tmp}>")
    )
    synced = [
        i
        for i, (name, args, _res) in enumerate(calls)
        if name == "fsync" and fd_path(args) == tmp and writes_done < i < link_at
    ]
    assert synced, f"{tmp} was not fsynced between the end of the copy and its link"


def test_backup_directory_is_fsynced_after_the_link(tmp_path: Path) -> None:
    backup_dir, calls = traced_backup(tmp_path)
    link_at, _tmp = link_index(calls, backup_dir)
    synced = [
        i
        for i, (name, args, _res) in enumerate(calls)
        if name == "fsync" and fd_path(args) == str(backup_dir) and i > link_at
    ]
    assert synced, f"the backup directory {backup_dir} was not fsynced after the link"
