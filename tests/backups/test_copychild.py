"""The large registry's copy (copychild.py), the hash that follows it, and the stepped fsync.

copychild runs as a child process in zarchd; here its functions run in the test process (no
other connection of this process has the registry open, so closing its descriptor drops no
lock anyone needs), except where the process itself is the point.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import json
import mmap
import os
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from zarchd.backups import copychild, list_backups, snapshot, take_backup, verify_backup
from zarchd.backups.hashfollow import HashFollower
from zarchd.backups.recover import recover_registry
from zarchd.core.errors import BackupError, IntegrityFailure
from zarchd.core.writeback import fsync_in_steps

from .conftest import FixedClock, add_row, corrupt, make_registry, max_id


def _mapped(directory: Path) -> str:
    """What a copy made ready in a map is called here: "map", or "copy" where this kernel or
    file system cannot make one ready (MADV_POPULATE_WRITE is Linux 5.14+)."""
    probe = directory / "probe"
    fd = os.open(probe, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        mm = copychild.prepare_map(fd, 8192)
        if mm is None:
            return "copy"
        mm.close()
        return "map"
    finally:
        os.close(fd)
        probe.unlink()


def _copy(reg: Path, dst: Path) -> tuple[str, list[int]]:
    dst.write_bytes(b"")
    done: list[int] = []

    def report(line: str) -> None:
        if line.startswith("done "):
            done.append(int(line[5:]))

    return copychild.copy(str(reg), str(dst), 5.0, report), done


def test_rollback_registry_is_read_into_a_map_made_ready_before_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_clone: None
) -> None:
    monkeypatch.setattr(copychild, "CHUNK", 64 * 1024)
    reg = make_registry(tmp_path / "registry.db", 3000)
    method, done = _copy(reg, tmp_path / "copy")
    assert method == _mapped(tmp_path)  # "copy" only where the kernel cannot make a map
    assert (tmp_path / "copy").read_bytes() == reg.read_bytes()
    size = reg.stat().st_size
    assert done == sorted(done) and done[-1] == size and len(done) == -(-size // (64 * 1024))


def test_the_map_is_kept_to_an_eighth_of_the_memory_to_spare(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_clone: None
) -> None:
    reg = make_registry(tmp_path / "registry.db", 3000)
    assert copychild.available_memory() > 0
    monkeypatch.setattr(copychild, "available_memory", lambda: 8 * reg.stat().st_size - 8)
    assert _copy(reg, tmp_path / "copy")[0] == "copy"
    monkeypatch.setattr(copychild, "available_memory", lambda: 8 * reg.stat().st_size)
    assert _copy(reg, tmp_path / "again")[0] == _mapped(tmp_path)


def test_beyond_the_map_limit_the_kernel_copies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_clone: None
) -> None:
    monkeypatch.setattr(copychild, "MAP_MAX", 4096)
    monkeypatch.setattr(copychild, "CHUNK", 64 * 1024)
    reg = make_registry(tmp_path / "registry.db", 3000)
    method, done = _copy(reg, tmp_path / "copy")
    assert method == "copy"
    assert (tmp_path / "copy").read_bytes() == reg.read_bytes()
    assert done[-1] == reg.stat().st_size and len(done) > 1


def test_wal_registry_goes_through_the_backup_api_with_the_wal(tmp_path: Path) -> None:
    reg = make_registry(tmp_path / "registry.db", 300, wal=True)
    app = sqlite3.connect(reg, isolation_level=None)
    app.execute("PRAGMA wal_autocheckpoint=0")
    app.execute("INSERT INTO items (payload) VALUES ('only in the wal')")
    try:
        method, done = _copy(reg, tmp_path / "copy")
    finally:
        app.close()
    assert method == "backup API" and max_id(tmp_path / "copy") == 301
    assert done == [(tmp_path / "copy").stat().st_size]


def _writable_now(reg: Path) -> bool:
    """Whether another process could take the registry's write lock at this moment."""
    code = (
        "import sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)\n"
        "try:\n    c.execute('BEGIN EXCLUSIVE'); c.execute('ROLLBACK'); print('free')\n"
        "except sqlite3.OperationalError:\n    print('locked')\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(reg)], capture_output=True, text=True)
    return out.stdout.strip() == "free"


@pytest.mark.parametrize("plain", [False, True], ids=["kernel", "read-write"])
@pytest.mark.parametrize("change", [8192, -8192], ids=["shrank", "grew"])
def test_a_registry_that_changed_size_before_the_lock_is_copied_whole_through_the_map(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_clone: None, change: int, plain: bool
) -> None:
    """DST was made ready for the size seen before the lock; a writer's commit changed the size
    since. The map still takes the bytes, only the part past it is copied by the kernel (or by
    read/write), and a shrunk copy is cut once the lock is let go: copying all of it by the
    kernel under the lock held writers about twice as long."""
    monkeypatch.setattr(copychild, "CHUNK", 4096)
    if plain:
        monkeypatch.delattr(copychild.os, "copy_file_range")
    reg = make_registry(tmp_path / "registry.db", 3000)
    dst = tmp_path / "copy"
    dst.write_bytes(b"")
    fi = os.open(reg, os.O_RDONLY)
    fo = os.open(dst, os.O_RDWR)
    done: list[int] = []
    cut_while_writable: list[bool] = []
    truncate = os.ftruncate

    def report(line: str) -> None:
        if line.startswith("done "):
            done.append(int(line[5:]))

    def watched_truncate(fd: int, length: int) -> None:
        cut_while_writable.append(_writable_now(reg))
        truncate(fd, length)

    try:
        truncate(fo, reg.stat().st_size + change)  # as prepare_map leaves it, on any kernel
        mm = mmap.mmap(fo, reg.stat().st_size + change)
        monkeypatch.setattr(copychild.os, "ftruncate", watched_truncate)
        try:
            method = copychild._locked_copy(str(reg), str(dst), 5.0, fi, fo, mm, False, report)
        finally:
            monkeypatch.setattr(copychild.os, "ftruncate", truncate)
            mm.close()
    finally:
        os.close(fo)
        os.close(fi)
    assert dst.read_bytes() == reg.read_bytes()
    tail = "read/write" if plain else "copy"
    assert method == ("map" if change > 0 else f"map+{tail}")
    # Each byte is copied once (nothing from 0 again), and told only once it is written.
    assert all(b > a for a, b in itertools.pairwise(done)) and done[-1] == reg.stat().st_size
    assert cut_while_writable == ([True] if change > 0 else [])


def test_an_io_error_of_the_kernel_copy_is_told_by_the_disk_it_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_clone: None
) -> None:
    """copy_file_range's EIO does not say which disk failed: the plain way goes on and reads and
    writes apart, so a failing registry disk says "cannot read" (7), not "cannot write" (5)."""
    monkeypatch.setattr(copychild, "MAP_MAX", 0)

    def failing(*_args: int) -> int:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(copychild.os, "copy_file_range", failing)
    reg = make_registry(tmp_path / "registry.db", 3000)
    method, _ = _copy(reg, tmp_path / "copy")  # the registry reads fine: copied the plain way
    assert method == "read/write" and (tmp_path / "copy").read_bytes() == reg.read_bytes()

    pread = os.pread

    def unreadable(fd: int, length: int, offset: int) -> bytes:
        if length <= 20:  # the header's look before the lock reads fine
            return pread(fd, length, offset)
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(copychild.os, "pread", unreadable)
    with pytest.raises(copychild.Failed, match=re.escape("reading it failed: [Errno 5]")) as err:
        _copy(reg, tmp_path / "again")
    assert err.value.code == 7


def test_no_space_for_the_copy_is_told_before_any_lock_is_taken(tmp_path: Path) -> None:
    """The copy's blocks are reserved before the lock: a full disk ends the child with "cannot
    write" (5) even while a writer holds the registry (the lock would have said "busy", 3)."""
    reg = make_registry(tmp_path / "registry.db", 3000)
    dst = tmp_path / "copy"
    dst.write_bytes(b"")
    holder = sqlite3.connect(reg, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")

    def small_files() -> None:  # a file size limit stands in for a full disk (EFBIG)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    try:
        res = subprocess.run(
            [sys.executable, "-I", "-S", copychild.__file__, str(reg), str(dst), "2"],
            capture_output=True,
            text=True,
            preexec_fn=small_files,
            timeout=60,
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert res.returncode == 5, res.stderr
    assert "Errno 27" in res.stderr and res.stdout == ""


def test_the_child_tells_busy_and_damaged_apart(tmp_path: Path) -> None:
    reg = make_registry(tmp_path / "registry.db", 300)
    dst = tmp_path / "copy"
    dst.write_bytes(b"")
    argv = [sys.executable, "-I", "-S", copychild.__file__, str(reg), str(dst), "0.2"]
    holder = sqlite3.connect(reg, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        busy = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert busy.returncode == 3 and "locked" in busy.stderr
    reg.write_bytes(b"not a database" * 1000)
    bad = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 4, bad.stderr
    ok_reg = make_registry(tmp_path / "ok.db", 300)
    good = subprocess.run(
        [*argv[:4], str(ok_reg), str(dst), "1"], capture_output=True, text=True, timeout=60
    )
    assert good.returncode == 0
    assert good.stdout.splitlines()[-1] in ("method map", "method clone", "method copy")


def test_the_hash_follows_a_file_written_front_to_back(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 123)
    path = tmp_path / "copy"
    path.write_bytes(b"")
    with HashFollower(path) as hashing, path.open("ab") as fh:
        for start in range(0, len(data), 700_000):
            fh.write(data[start : start + 700_000])
            fh.flush()
            hashing.advance(min(len(data), start + 700_000))
        assert hashing.result(len(data)) == hashlib.sha256(data).hexdigest()


def test_the_hash_never_hands_out_a_digest_of_part_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "copy"
    path.write_bytes(b"x" * 5000)
    with HashFollower(path) as hashing:
        hashing.advance(5000)
        with pytest.raises(OSError, match="has 5000 bytes, not 6000"):
            hashing.result(6000)
    with HashFollower(path) as unused:  # never advanced: its thread never starts, exit is clean
        pass
    assert unused._thread is None
    with HashFollower(path) as abandoned:  # the copy failed: the thread stops with the block
        abandoned.advance(100)
    assert abandoned._thread is not None and not abandoned._thread.is_alive()


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_the_copy_is_written_out_in_steps_before_its_fsync(tmp_path: Path) -> None:
    """Observed with strace: sync_file_range over each 256 KiB step, then one fsync."""
    path = tmp_path / "copy"
    path.write_bytes(os.urandom(1024 * 1024))
    log = tmp_path / "strace.txt"
    code = (
        "import sys; from pathlib import Path; from zarchd.core.writeback import fsync_in_steps; "
        "fsync_in_steps(Path(sys.argv[1]), 256 * 1024)"
    )
    res = subprocess.run(
        [
            "strace",
            "-f",
            "-qq",
            "-o",
            str(log),
            "-e",
            "trace=sync_file_range,fsync",
            sys.executable,
            "-c",
            code,
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if res.returncode != 0 and "ptrace" in res.stderr:
        pytest.skip(f"strace cannot trace here: {res.stderr.strip()}")
    assert res.returncode == 0, res.stderr
    calls = re.findall(r"(sync_file_range|fsync)\(\d+(?:, (\d+))?", log.read_text())
    assert [c[0] for c in calls] == ["sync_file_range"] * 4 + ["fsync"]
    assert [int(c[1]) for c in calls[:4]] == [0, 262144, 524288, 786432]
    fsync_in_steps(path)  # and in this process: no error


@pytest.fixture
def no_clone(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a file system that clones (XFS, btrfs) the tests of the other ways would clone."""
    monkeypatch.setattr(copychild, "clones", lambda fi, fo: False)


def test_a_kernel_copy_that_stops_short_goes_on_the_plain_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_clone: None
) -> None:
    """copy_file_range has answered 0 for readable data on some kernels and file systems: that
    is not the end of the file (a short copy reads as a sound smaller database)."""
    monkeypatch.setattr(copychild, "MAP_MAX", 0)
    monkeypatch.setattr(copychild.os, "copy_file_range", lambda *a: 0)
    reg = make_registry(tmp_path / "registry.db", 3000)
    method, done = _copy(reg, tmp_path / "copy")
    assert method == "read/write" and (tmp_path / "copy").read_bytes() == reg.read_bytes()
    assert done[-1] == reg.stat().st_size
    fi, fo = os.open(reg, os.O_RDONLY), os.open(tmp_path / "other", os.O_RDWR | os.O_CREAT)
    try:  # a registry shorter than its size under the lock (changed without SQLite's locks)
        with pytest.raises(copychild.Failed, match="shorter than its size") as err:
            copychild.kernel_copy(fi, fo, reg.stat().st_size + 4096, lambda line: None)
        assert err.value.code == 7
    finally:
        os.close(fi)
        os.close(fo)


def _fake_child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    """Our copy child replaced by a script that misbehaves as a broken kernel or disk would."""
    script = tmp_path / "child.py"
    script.write_text("import os, sys, signal\n" + body)
    monkeypatch.setattr(snapshot, "CHILD", script)


@pytest.mark.parametrize(
    ("body", "told"),
    [
        ("print('size 100000'); print('done 100000'); print('method copy')", "incomplete"),
        ("print('method copy')", "not a database (the file is empty)"),
        ("os.kill(os.getpid(), signal.SIGBUS)", "killed by SIGBUS"),
        (
            "sys.stderr.write('cannot open it: [Errno 13] Permission denied'); sys.exit(7)",
            "cannot read the registry",
        ),
    ],
    ids=["short", "empty", "signal", "unreadable"],
)
def test_the_parent_never_publishes_what_the_child_did_not_copy_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, told: str
) -> None:
    reg = make_registry(tmp_path / "registry.db", 300)
    _fake_child(tmp_path, monkeypatch, body)
    out = tmp_path / "b"
    with pytest.raises(BackupError, match=re.escape(told)) as err:
        take_backup(reg, out, in_process_max=0)
    assert not isinstance(err.value, IntegrityFailure)  # a sound registry is never "damaged"
    assert list(out.iterdir()) == []


def test_an_empty_backup_never_verifies_and_recover_skips_it(
    tmp_path: Path, clock: FixedClock
) -> None:
    """SQLite calls an empty file a sound empty database: as a backup it is a copy gone wrong."""
    reg = make_registry(tmp_path / "registry.db", 300)
    out = tmp_path / "b"
    good = take_backup(reg, out, now=clock)
    clock.advance(hours=1)
    add_row(reg)
    bad = take_backup(reg, out, now=clock)
    bad.path.write_bytes(b"")  # what a short copy of old would have published
    meta = json.loads(Path(f"{bad.path}.json").read_text())
    meta.update(size_bytes=0, sha256=hashlib.sha256(b"").hexdigest())
    Path(f"{bad.path}.json").write_text(json.dumps(meta))
    listed = {b.name: b for b in list_backups(reg, out)}
    result = verify_backup(listed[bad.name], now=clock)
    assert not result.ok and "not a backup: the file is empty" in result.problems[0]
    corrupt(reg)
    restored = recover_registry(reg, out, now=clock)
    assert restored["restored"] == good.name


def test_a_symlinked_large_registry_is_backed_up(tmp_path: Path, clock: FixedClock) -> None:
    """The configured path is not resolved; the child follows the link as SQLite does."""
    real = make_registry(tmp_path / "real" / "registry.db", 300)
    link = tmp_path / "registry.db"
    link.symlink_to(real)
    info = take_backup(link, tmp_path / "b", now=clock, in_process_max=0)
    assert info.path.read_bytes() == real.read_bytes()


def test_the_ways_a_copy_ends_told_in_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """main()'s protocol and exit codes, and each fallback, without a child process (the child
    runs with -I -S, out of the coverage's sight)."""
    import errno

    reg = make_registry(tmp_path / "registry.db", 3000)
    dst = tmp_path / "copy"
    dst.write_bytes(b"")
    fi, fo = os.open(reg, os.O_RDONLY), os.open(dst, os.O_RDWR)
    can_clone = copychild.clones(fi, fo)  # ext4 cannot; XFS and btrfs can
    os.close(fi)
    os.close(fo)
    assert copychild.main([str(reg), str(dst), "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"size {reg.stat().st_size}"
    assert lines[-1] == ("method clone" if can_clone else f"method {_mapped(tmp_path)}")
    assert copychild.main([str(tmp_path / "missing.db"), str(dst), "1"]) == 7
    assert "cannot open it" in capsys.readouterr().err
    with pytest.raises(copychild.Failed) as err:  # no temp file to write into
        copychild.copy(str(reg), str(tmp_path / "no" / "copy"), 1.0, print)
    assert err.value.code == 5
    fi, fo = os.open(reg, os.O_RDONLY), os.open(dst, os.O_RDWR)
    tiny = tmp_path / "tiny"
    tiny.write_bytes(b"x" * 100)
    fd_dir = os.open(tmp_path, os.O_RDONLY)
    try:
        small = os.open(tiny, os.O_RDONLY)
        assert copychild.clones(small, fo) is False  # under one block: never tried
        os.close(small)
        monkeypatch.setattr(copychild, "MADV_POPULATE_WRITE", 999)  # an advice the kernel lacks
        assert copychild.prepare_map(fo, 8192) is None and os.fstat(fo).st_size == 0
        monkeypatch.undo()
        os.ftruncate(fo, reg.stat().st_size + 4096)  # a map one page longer than the registry
        mm = mmap.mmap(fo, reg.stat().st_size + 4096)
        with pytest.raises(copychild.Failed, match="shorter than its size"):
            copychild.read_into(fi, mm, len(mm), print)
        with pytest.raises(copychild.Failed, match="reading it failed"):  # EISDIR
            copychild.read_into(fd_dir, mm, len(mm), print)
        mm.close()
        os.ftruncate(fo, 0)
        monkeypatch.setattr(copychild.os, "copy_file_range", _raises(errno.EXDEV))
        assert copychild.kernel_copy(fi, fo, reg.stat().st_size, lambda line: None) == (
            "read/write"
        )
        assert dst.read_bytes() == reg.read_bytes()
        with pytest.raises(copychild.Failed, match="reading it failed"):
            copychild.kernel_copy(fd_dir, fo, 100, lambda line: None)
        monkeypatch.setattr(copychild.os, "copy_file_range", _raises(errno.ENOSPC))
        with pytest.raises(OSError, match="No space"):
            copychild.kernel_copy(fi, fo, 100, lambda line: None)
        monkeypatch.undo()
        os.ftruncate(fo, 0)  # a clone that fails under the lock: copied instead
        method = copychild._locked_copy(str(reg), str(dst), 1.0, fi, fo, None, True, print)
        assert method == ("clone" if can_clone else "copy")
        assert dst.read_bytes() == reg.read_bytes()
        other = make_registry(tmp_path / "other.db", 10)
        with pytest.raises(copychild.Failed, match="replaced") as replaced:
            copychild._locked_copy(str(other), str(dst), 1.0, fi, fo, None, False, print)
        assert replaced.value.code == 6
    finally:
        for fd in (fi, fo, fd_dir):
            os.close(fd)


def _raises(code: int) -> object:
    def fail(*_args: object) -> int:
        raise OSError(code, os.strerror(code))

    return fail


def test_busy_damaged_and_a_mode_changed_to_wal_in_this_process(tmp_path: Path) -> None:
    reg = make_registry(tmp_path / "registry.db", 300)
    dst = tmp_path / "copy"
    holder = sqlite3.connect(reg, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(copychild.Failed) as busy:
            _copy(reg, dst)
        assert busy.value.code == 3
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a database" * 1000)
    with pytest.raises(copychild.Failed) as damaged:
        _copy(bad, dst)
    assert damaged.value.code == 4
    wal = make_registry(tmp_path / "wal.db", 300, wal=True)
    dst.write_bytes(b"")
    fi, fo = os.open(wal, os.O_RDONLY), os.open(dst, os.O_RDWR)
    try:  # DST was made ready as for a rollback-journal registry: the WAL way empties it first
        os.ftruncate(fo, wal.stat().st_size)  # a map as prepare_map makes it ready
        mm = mmap.mmap(fo, wal.stat().st_size)
        method = copychild._locked_copy(str(wal), str(dst), 1.0, fi, fo, mm, False, print)
        mm.close()
    finally:
        os.close(fi)
        os.close(fo)
    assert method == "backup API" and max_id(dst) == 300
