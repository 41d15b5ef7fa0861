"""Mistakes and accidents a user can cause, black-box: real zarchctl/zarchd processes, real files.

The rule under test: every such error ends in a clear message and a non-zero exit code (0 done,
1 failed, 2 bad usage/config, 3 no daemon), never a traceback, and never lost or half-written data.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import make_baseline_registry, tamper
from tests.e2e.harness import clean, command, ctl, sha, wait_for, zarchd_run


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "zarchd.toml"
    path.write_text(text)
    return path


@contextlib.contextmanager
def unwritable_dir(path: Path) -> Iterator[None]:
    """A directory nobody may create files in, root included (chattr +i), restored afterwards."""
    if os.geteuid() != 0:
        path.chmod(0o555)
        try:
            yield
        finally:
            path.chmod(0o755)
        return
    subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def hot_journal(registry: Path) -> None:
    """A writer killed -9 in the middle of a transaction, its changes spilled to the file."""
    code = (
        "import os, sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('PRAGMA cache_size=1')\n"
        "c.execute('BEGIN IMMEDIATE')\n"
        "c.execute('UPDATE archives SET metadata = hex(randomblob(500))')\n"
        "c.execute('CREATE TABLE half_written (x)')\n"
        "os.kill(os.getpid(), 9)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(registry)])
    assert proc.returncode == -9
    assert Path(str(registry) + "-journal").stat().st_size > 0


def state_file(home: Path) -> Path:
    found = list((home / "state").glob("zarchd/*/state.json"))
    assert len(found) == 1, found
    return found[0]


# --- problems found: each of these failed when written --------------------------------------


def test_registry_in_an_unwritable_directory_fails_cleanly(registry_0005: Path) -> None:
    before = sha(registry_0005)
    with unwritable_dir(registry_0005.parent):
        res = ctl(registry_0005, "backup", "--local")
    out = clean(res)
    assert res.returncode == 1
    assert str(registry_0005.parent) in out
    assert sha(registry_0005) == before


def test_registry_path_that_is_a_directory_is_never_set_aside(tmp_path: Path) -> None:
    """A registry.path pointing at ~/.7zarch-go instead of the file: recover must not move it."""
    folder = tmp_path / "dot7zarch"
    folder.mkdir()
    (folder / "registry.db").write_bytes(b"the user's real registry lives here")
    res = ctl(folder, "recover", "--local", "--yes")
    out = clean(res)
    assert res.returncode == 1, out  # failed (and said why), nothing moved
    assert "directory" in out
    assert (folder / "registry.db").read_bytes() == b"the user's real registry lives here"
    assert not list(tmp_path.glob("dot7zarch.corrupted-*"))


def test_backup_dir_that_is_a_file_is_reported_not_raised(
    registry_0005: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "backups-here"
    blocker.write_text("not a directory")
    config = write_config(tmp_path, f'[backup]\ndir = "{blocker}"\n')
    # Regression (issue 9, defect 10): status exited 1 "internal error: NotADirectoryError".
    for verb in ("backups", "backup", "verify"):
        res = ctl(registry_0005, verb, "--local", "--config", str(config))
        out = clean(res)
        assert res.returncode == 1, out
        assert f"the backup directory {blocker} is not a directory" in out, out
    status = ctl(registry_0005, "status", "--local", "--config", str(config))
    out = clean(status)
    assert status.returncode == 0, out  # the registry is fine: status reports, it does not fail
    assert "integrity ok" in out and f"{blocker} is not a directory" in out, out
    report = json.loads(
        ctl(registry_0005, "status", "--local", "--json", "--config", str(config)).stdout
    )
    assert "is not a directory" in report["backups"]["problem"]
    assert report["registry"]["integrity"] == "ok"
    run = zarchd_run(
        config,
        env={
            **os.environ,
            "ZARCH_REGISTRY": str(registry_0005),
            "ZARCH_SOCKET": str(tmp_path / "s.sock"),
        },
    )
    assert run.returncode == 1, run.stderr[-2000:]
    assert f"{blocker} is not a directory" in clean(run)
    assert blocker.read_text() == "not a directory"


def test_hostile_sidecars_do_not_break_listing(registry_0005: Path) -> None:
    assert ctl(registry_0005, "backup", "--local").returncode == 0
    assert ctl(registry_0005, "backup", "--local").returncode == 0
    sidecars = sorted(registry_0005.parent.glob("*.bak.json"))
    assert len(sidecars) == 2
    meta = json.loads(sidecars[0].read_text())
    names = [p.name.removesuffix(".json") for p in sidecars]
    for created_at in (5, "2024-01-01T00:00:00"):  # wrong type; no time zone
        sidecars[0].write_text(json.dumps({**meta, "created_at": created_at}))
        res = ctl(registry_0005, "backups", "--local")
        out = clean(res)
        assert res.returncode == 0, out
        assert all(name in out for name in names)


def test_damaged_state_file_does_not_stop_status_or_backups(
    registry_0005: Path, isolated_dirs: Path
) -> None:
    assert ctl(registry_0005, "backup", "--local").returncode == 0
    state = state_file(isolated_dirs)
    state.write_text(
        json.dumps({"history": 5, "last_backup": "x", "last_check": [1], "last_error": 7})
    )
    status = ctl(registry_0005, "status", "--local")
    assert status.returncode == 0, clean(status)
    res = ctl(registry_0005, "backup", "--local")
    assert res.returncode == 0, clean(res)
    assert len(list(registry_0005.parent.glob("*.bak"))) == 2


def test_unwritable_state_does_not_turn_a_good_backup_into_a_traceback(
    registry_0005: Path, isolated_dirs: Path
) -> None:
    assert ctl(registry_0005, "backup", "--local").returncode == 0
    state = state_file(isolated_dirs)
    state.unlink()
    state.mkdir()  # the state file cannot be replaced
    res = ctl(registry_0005, "backup", "--local")
    out = clean(res)
    assert "state" in out
    assert res.returncode == 0, "the backup was taken: unwritable bookkeeping does not fail it"
    assert len(list(registry_0005.parent.glob("*.bak"))) == 2


def test_durations_too_large_for_the_scheduler_are_config_errors(
    registry_0005: Path, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path,
        f'[backup]\ninterval = "99999999999d"\n[control]\nsocket = "{tmp_path / "s.sock"}"\n',
    )
    res = zarchd_run(config, env={**os.environ, "ZARCH_REGISTRY": str(registry_0005)})
    assert res.returncode == 2, res.stderr[-2000:]
    assert "backup.interval" in clean(res)
    nan = write_config(tmp_path, "[backup]\ninterval = nan\n[check]\ninterval = inf\n")
    res = ctl(registry_0005, "status", "--local", "--config", str(nan))
    out = clean(res)
    assert res.returncode == 2
    assert "backup.interval" in out and "check.interval" in out


def test_socket_path_over_the_unix_limit_is_bad_config(registry_0005: Path, tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 110)
    deep.mkdir()
    sock = deep / "zarchd.sock"
    config = write_config(tmp_path, f'[control]\nsocket = "{sock}"\n')
    res = zarchd_run(config, env={**os.environ, "ZARCH_REGISTRY": str(registry_0005)})
    assert res.returncode == 2, res.stderr[-2000:]
    assert "too long" in clean(res)
    status = ctl(registry_0005, "status", "--socket", str(sock))
    assert status.returncode == 2, clean(status)  # bad usage: no daemon can listen there
    assert "too long" in clean(status)


def test_a_daemon_that_never_answers_does_not_hang_zarchctl(
    registry_0005: Path, tmp_path: Path
) -> None:
    """A wedged daemon (SIGSTOP, deadlock) accepts connections and says nothing."""
    path = tmp_path / "mute.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(4)
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(server.accept()[0]), daemon=True).start()
    try:
        res = ctl(registry_0005, "ping", "--socket", str(path), timeout=12)
    finally:
        server.close()
        for conn in held:
            conn.close()
    assert res.returncode == 1, res.stderr  # failed: no answer in time
    assert "no answer from zarchd" in res.stderr
    assert "Traceback" not in res.stderr and res.stderr.strip()


def test_hot_journal_from_a_killed_writer_is_not_called_damage(registry_0005: Path) -> None:
    """The most common crash: the app killed mid-write. SQLite rolls it back on the next open;
    telling the user the registry is damaged (and to run `recover`) would throw away a good one."""
    registry_0005.chmod(0o644)
    conn = sqlite3.connect(registry_0005)
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) "
        "INSERT INTO archives (uid, name, path, size, created) "
        "SELECT 'u' || i, 'n' || i, 'p', 1, '2024-01-01' FROM n"
    )
    conn.commit()
    conn.close()
    hot_journal(registry_0005)
    status = ctl(registry_0005, "status", "--local", "--json")
    assert status.returncode == 0, clean(status)
    told = json.loads(status.stdout)["registry"]
    assert told["integrity"] == "unknown"
    assert "stopped mid-transaction" in told["integrity_problems"][0]  # and what to do
    check = ctl(registry_0005, "check", "--local")
    assert check.returncode == 0, clean(check)
    conn = sqlite3.connect(registry_0005)
    assert conn.execute("SELECT count(*) FROM archives").fetchone() == (3000,)
    assert conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE name = 'half_written'"
    ).fetchone() == (0,)
    conn.close()


def test_nul_byte_in_a_configured_path_is_a_config_error(
    registry_0005: Path, tmp_path: Path
) -> None:
    config = write_config(tmp_path, '[registry]\npath = "/tmp/x\\u0000y"\n')
    env = {k: v for k, v in os.environ.items() if k != "ZARCH_REGISTRY"}
    res = subprocess.run(
        [*command("zarchctl"), "backup", "--local", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert res.returncode == 2, res.stderr[-2000:]
    assert "registry.path" in clean(res)


# Runs the command with SIGINT at its default disposition, as a shell runs a foreground job. A
# process started with SIGINT ignored (pytest launched as a background job of a script: `cmd &`
# without job control) passes that on, and Python then installs no KeyboardInterrupt handler:
# the SIGINT below would be ignored and the migration run into its 60 s limit (issue 12).
WITH_DEFAULT_SIGINT = [
    sys.executable,
    "-c",
    "import os, signal, sys; "
    "signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])",
]


def _local_migrate_as_a_foreground_job(registry: Path, config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*WITH_DEFAULT_SIGINT, *command("zarchctl"), "migrate", "--local", "--config", str(config)],
        env={**os.environ, "ZARCH_REGISTRY": str(registry)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def test_ctrl_c_during_a_local_migration_says_interrupted(
    registry_0005: Path, tmp_path: Path
) -> None:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "0006_forever.sql").write_text(
        "-- name: forever\n-- migrate:up\nCREATE TABLE t_forever (x);\n"
        "INSERT INTO t_forever WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)"
        " SELECT x FROM c;\n"
    )
    config = write_config(tmp_path, f'[migrations]\ntimeout = "60s"\ndir = "{migrations}"\n')
    size_before = registry_0005.stat().st_size
    proc = _local_migrate_as_a_foreground_job(registry_0005, config)
    try:
        # The event: the registry file grows, so the endless INSERT is running and spilling
        # its rows (the -journal alone appears at CREATE TABLE, before the INSERT starts).
        wait_for(
            lambda: registry_0005.stat().st_size > size_before or proc.poll() is not None,
            timeout=60,
            what="the endless INSERT to write into the registry",
        )
        assert proc.poll() is None, proc.communicate()
    except BaseException:
        proc.kill()
        raise
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert "Traceback" not in out + err
    assert proc.returncode == 130, err
    assert "interrupt" in err
    assert "longer than its limit" not in err, "Ctrl-C after 1s is not a 60s timeout"
    conn = sqlite3.connect(registry_0005)
    assert conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE name = 't_forever'"
    ).fetchone() == (0,)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()


# --- behaviour that already works and matters: guards -----------------------------------------


def test_two_local_migrations_at_once_one_waits_out_the_other(tmp_path: Path) -> None:
    registry = make_baseline_registry(tmp_path / "reg" / "registry.db", rows=2000)
    env = {**os.environ, "ZARCH_REGISTRY": str(registry)}
    procs = [
        subprocess.Popen(
            [*command("zarchctl"), "migrate", "--local"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    results = [(p.wait(timeout=60), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes in ([0, 0], [0, 1]), results
    for code, out, err in results:
        assert "Traceback" not in out + err
        if code == 1:
            assert "lock" in err
    conn = sqlite3.connect(registry)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert conn.execute("SELECT max(id) FROM schema_migrations").fetchone() == (
        "0005_search_index",
    )
    assert conn.execute("SELECT count(*) FROM archives").fetchone() == (2000,)
    conn.close()


def test_restore_never_replaces_the_registry_without_a_sound_backup_and_a_safety_copy(
    registry_0005: Path,
) -> None:
    registry_0005.chmod(0o644)
    assert ctl(registry_0005, "backup", "--local").returncode == 0
    backup = next(registry_0005.parent.glob("*.bak"))
    conn = sqlite3.connect(registry_0005)
    conn.execute("CREATE TABLE newer_work (x)")
    conn.commit()
    conn.close()
    before = sha(registry_0005)
    good = backup.read_bytes()
    tamper(backup, at=30000, data=b"XXXX")  # bit rot inside the backup
    res = ctl(registry_0005, "restore", backup.name, "--yes", "--local")
    assert res.returncode == 1 and backup.name in clean(res)
    assert sha(registry_0005) == before
    backup.write_bytes(good)
    with unwritable_dir(registry_0005.parent):  # no room for the safety backup
        res = ctl(registry_0005, "restore", backup.name, "--yes", "--local")
    assert res.returncode == 1, clean(res)
    assert sha(registry_0005) == before


def test_migration_dependency_cycle_stops_before_anything_runs(
    registry_0005: Path, tmp_path: Path
) -> None:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    for this, other in (("0006_a", "0007_b"), ("0007_b", "0006_a")):
        (migrations / f"{this}.sql").write_text(
            f"-- name: {this}\n-- depends: {other}\n-- migrate:up\nCREATE TABLE t_{this} (x);\n"
        )
    (migrations / "0008_c.sql").write_bytes(b"-- name: \xff\xfe\n-- migrate:up\nSELECT 1;\n")
    config = write_config(tmp_path, f'[migrations]\ndir = "{migrations}"\n')
    before = sha(registry_0005)
    res = ctl(registry_0005, "migrate", "--local", "--config", str(config))
    out = clean(res)
    assert res.returncode == 1
    assert "0006_a" in out or "0008_c" in out
    assert sha(registry_0005) == before
    assert not list(registry_0005.parent.glob("*.bak")), "nothing runs, not even the backup"


def test_ctrl_c_during_the_backup_before_a_local_migration_says_interrupted(
    registry_0005: Path, tmp_path: Path
) -> None:
    # SQLite's VACUUM INTO swallows the KeyboardInterrupt raised in its progress handler (only
    # "interrupted" comes out): it used to be reported as the 600 s backup deadline, exit 1.
    conn = sqlite3.connect(registry_0005)
    # ~200 MB in small rows: the copy lasts long enough for the signal to land inside it, and
    # runs enough VM instructions for the progress handler to see the signal there.
    conn.execute("CREATE TABLE pad (b BLOB)")
    conn.execute(
        "INSERT INTO pad WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
        " WHERE i < 100000) SELECT randomblob(2000) FROM n"
    )
    conn.commit()
    conn.close()
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "0006_tags.sql").write_text(
        "-- name: tags\n-- migrate:up\nALTER TABLE archives ADD COLUMN tags TEXT;\n"
    )
    config = write_config(tmp_path, f'[migrations]\ndir = "{migrations}"\n')
    proc = _local_migrate_as_a_foreground_job(registry_0005, config)
    assert proc.stderr is not None
    try:
        # The event: the progress line printed just before the copy starts.
        first = proc.stderr.readline()
        assert re.match(r"\[\d+:\d\d\] copy started", first), first + proc.stderr.read()
    except BaseException:
        proc.kill()
        raise
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert "Traceback" not in out + err
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert not list(registry_0005.parent.glob("registry-*.bak")), "nothing published"
    conn = sqlite3.connect(registry_0005)
    assert conn.execute("SELECT max(id) FROM schema_migrations").fetchone() == (
        "0005_search_index",
    )
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()


def test_a_reader_that_leaves_early_ends_no_command_in_a_traceback(registry_0005: Path) -> None:
    """`zarchctl backups | head -1`: the pipe closes under zarchctl (review 2026-11-29)."""
    env = {**os.environ, "ZARCH_REGISTRY": str(registry_0005)}
    for args in (["backups"], ["prune", "--dry-run"], ["status"], ["log"]):
        proc = subprocess.Popen(
            [*command("zarchctl"), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # the reader is gone before the first line
        err = proc.stderr.read().decode()
        proc.stderr.close()
        assert proc.wait(timeout=60) != 0, args
        assert "Traceback" not in err and "Exception ignored" not in err, (args, err)
