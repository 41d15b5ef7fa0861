"""A verified backup against `cp` + fsync, and what an application writer suffers meanwhile.

The writer is a separate process shaped like 7zarch-go: the real archives table, a 5 s busy
timeout, one committed INSERT every 5 ms. It counts the commits that failed with SQLITE_BUSY
("database is locked") instead of hiding them behind a long timeout.

Backups are taken as the daemon takes them: a fully checked backup from earlier in the week
is in the directory (so each timed one gets quick_check, as all but the weekly one do), and
the registry changes between runs (one row, untimed), so none is a link to the previous one.
The weekly full check is its own line; so is the space ten backups of an unchanged registry take.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from benchmarks.common import BUSY_TIMEOUT_S, Row, fsync_file, make_0005, paired, timed
from zarchd.backups import take_backup

WRITER_REPS = 5  # at 100 MB even in --quick: a median of 3 worst commits is one device stall away
WRITER = textwrap.dedent("""
    import json, os, sqlite3, sys, time
    path, out, stop, timeout = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    conn = sqlite3.connect(path, timeout=timeout)
    lat, busy, n = [], 0, 0
    open(out + ".ready", "w").close()
    while not os.path.exists(stop):
        n += 1
        t = time.monotonic()
        try:
            conn.execute(
                "INSERT INTO archives (uid, name, path, size, created, status)"
                " VALUES (?, ?, ?, ?, datetime('now'), 'present')",
                ("01W%023d" % (os.getpid() * 10**7 + n), "w-%d-%d.7z" % (os.getpid(), n),
                 "/data/w/%d.7z" % n, n),
            )
            conn.commit()
            lat.append((t, time.monotonic() - t))
        except sqlite3.OperationalError as exc:
            busy += 1
            lat.append((t, time.monotonic() - t))
            conn.rollback()
        time.sleep(0.005)
    with open(out, "w") as fh:
        json.dump({"lat": lat, "busy": busy}, fh)
""")


def cp_fsync(src: Path, dst: Path) -> None:
    subprocess.run(["cp", str(src), str(dst)], check=True)
    fsync_file(dst)


def clear(directory: Path, keep: tuple[str, ...] = ()) -> None:
    for p in directory.iterdir():
        if p.name not in keep:
            p.unlink()


def add_row(reg: Path) -> None:
    """One committed change: the next backup differs from the previous one.

    It returns once the change is 60 ms old, as every backup the daemon takes after a change
    is (it waits for `backup.debounce`, 30 s by default): a backup begun within 50 ms of a
    commit first waits for the change token to settle (db/fingerprint.py), which is not the
    copy's cost."""
    conn = sqlite3.connect(reg, timeout=BUSY_TIMEOUT_S)
    conn.execute(
        "INSERT INTO archives (uid, name, path, size, created, status)"
        " VALUES (?, ?, '/data/extra.7z', 1, datetime('now'), 'present')",
        (f"01X{time.time_ns():023d}", f"bench-extra-{time.time_ns()}.7z"),
    )
    conn.commit()
    conn.close()
    while time.time_ns() - reg.stat().st_mtime_ns < 60_000_000:
        time.sleep(0.01)


def du_bytes(directory: Path) -> int:
    """What `du -s` counts: allocated blocks, each file (inode) once."""
    out = subprocess.run(["du", "-sk", str(directory)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0]) * 1024


def set_mode(reg: Path, wal: bool) -> None:
    conn = sqlite3.connect(reg)
    conn.execute(f"PRAGMA journal_mode={'WAL' if wal else 'DELETE'}")
    conn.close()


def writer_during(reg: Path, work: Path, action: object) -> tuple[float, int, int, float]:
    """The writer's worst commit (s) while `action()` runs, its BUSY failures and commits in the
    whole run (0.2 s either side too: a failure is one wherever it falls), and how long
    `action()` took.

    Only commits that overlap `action()` count: this device's own flush stalls (an idle writer
    here once saw seven of 40 to 190 ms in 20 s) would otherwise weigh in from the margins."""
    out, stop = work / "lat.json", work / "stop"
    for p in (out, stop, Path(f"{out}.ready")):
        p.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(reg), str(out), str(stop), str(BUSY_TIMEOUT_S)]
    )
    try:
        deadline = time.monotonic() + 30
        while not Path(f"{out}.ready").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the writer process did not start")
            time.sleep(0.01)
        time.sleep(0.2)  # some commits before the backup starts
        began = time.monotonic()
        action()  # type: ignore[operator]
        ended = time.monotonic()
        time.sleep(0.2)
    finally:
        stop.touch()
        proc.wait(60)
    data = json.loads(out.read_text())
    during = [lat for t, lat in data["lat"] if t < ended and t + lat > began]
    return max(during, default=0.0), int(data["busy"]), len(data["lat"]), ended - began


def run(work: Path, sizes_mb: list[int], repeat: int) -> list[Row]:
    rows: list[Row] = []
    out = work / "out"
    out.mkdir()
    reg = work / "registry.db"
    for mb in sizes_mb:
        make_0005(reg, mb * 1_000_000)
        size = f"{reg.stat().st_size / 1e6:,.0f} MB"
        reps = repeat if mb < 1000 else max(1, repeat // 2)
        full = [timed(lambda: take_backup(reg, out, full_check_every_s=0)) for _ in range(1)]
        seed = tuple(p.name for p in out.iterdir())  # this week's fully checked backup
        seed_bytes = du_bytes(out)

        def again(seed: tuple[str, ...] = seed) -> None:
            clear(out, seed)
            add_row(reg)

        again()
        t_take, t_cp = paired(
            lambda: take_backup(reg, out),
            lambda: cp_fsync(reg, out / "copy.db"),
            reps,
            again,
        )
        clear(out, seed)
        for _ in range(10):
            take_backup(reg, out)
        ten = du_bytes(out) - seed_bytes
        one = reg.stat().st_blocks * 512
        clear(out, seed)
        rows.append(
            Row(
                f"verified backup (quick_check), {size} registry",
                t_take,
                "cp + fsync",
                t_cp,
                # Issue 16 sets it for 1 GB; at 100 MB the fixed costs (the child's start,
                # ~20 ms) and the check itself (~1.2x of cp + fsync) leave no room for 2x.
                max_ratio=2.0 if mb >= 1000 else None,
                goal="<= 2x" if mb >= 1000 else "- (1 GB: <= 2x)",
                note=(
                    f"10 backups of the unchanged registry take {ten / 1e6:,.0f} MB on disk "
                    f"(du), the registry {one / 1e6:,.0f} MB"
                ),
            )
        )
        rows.append(
            Row(
                f"verified backup (full integrity_check, weekly), {size} registry",
                full,
                "cp + fsync",
                t_cp,
            )
        )
        writer_reps = max(reps, WRITER_REPS) if mb < 1000 else reps
        t_plain = [timed(lambda: shutil.copyfile(reg, out / "c.db")) for _ in range(writer_reps)]
        clear(out, seed)
        for wal in (False, True):
            set_mode(reg, wal)
            mode = "WAL" if wal else "rollback journal"
            worst, took, busy, commits = [], [], 0, 0
            for _ in range(writer_reps):
                w, b, n, t = writer_during(reg, work, lambda: take_backup(reg, out))
                clear(out, seed)
                worst.append(w)
                took.append(t)
                busy += b
                commits += n
            window = statistics.median(took)  # the device's own stalls, in windows as long
            idle_worst = [
                writer_during(reg, work, lambda w=window: time.sleep(w))[0] for _ in worst
            ]
            rows.append(
                Row(
                    f"writer's worst commit during backup, {mode}, {size}",
                    worst,
                    "cp of the file",
                    t_plain,
                    max_ratio=1.2,
                    worst_too=True,  # "any writer": the worst backup counts, not only the median
                    goal="<= 1.2x, worst too",
                    note=(
                        f"worst {max(worst) * 1000:.0f} ms vs the worst cp "
                        f"{max(t_plain) * 1000:.0f} ms: {max(worst) / max(t_plain):.2f}x; "
                        f"worst {max(worst):.2f} s vs the {BUSY_TIMEOUT_S:g} s busy timeout "
                        f"({'under' if max(worst) < BUSY_TIMEOUT_S else 'OVER'} it): "
                        f"{busy} of {commits} commits (the backups, 0.2 s either side) "
                        "failed SQLITE_BUSY; "
                        f"no backup running, as many windows as long: worst "
                        f"{statistics.median(idle_worst) * 1000:.0f} ms median, "
                        f"{max(idle_worst) * 1000:.0f} ms max"
                    ),
                )
            )
        set_mode(reg, False)
        clear(out)
        reg.unlink()
    return rows
