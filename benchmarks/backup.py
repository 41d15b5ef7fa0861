"""Backup speed and the cost to a concurrent writer.

For registries of about 100 MB and 1 GB (rollback journal):
- take_backup (copy + fsync + integrity_check + sha256) against `cp` of the same file,
- the bare copy methods: VACUUM INTO against the backup API in one step (backup(pages=-1)),
and, in both journal modes, a writer process committing every 5 ms while backups run: its
worst and p99 commit latency, against a baseline with no backup running.

    python benchmarks/backup.py            # 100MB and 1GB
    python benchmarks/backup.py --quick    # 100MB only, one run each
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zarchd.backups import take_backup

WRITER = textwrap.dedent("""
    import sqlite3, sys, time, os
    path, out, stop = sys.argv[1], sys.argv[2], sys.argv[3]
    conn = sqlite3.connect(path, timeout=120, isolation_level=None)
    lat = []
    open(out + ".ready", "w").close()
    while not os.path.exists(stop):
        t = time.perf_counter()
        conn.execute(
            "INSERT INTO archives (name, payload) VALUES (?, ?)", (os.urandom(8).hex(), "w" * 300)
        )
        lat.append(time.perf_counter() - t)
        time.sleep(0.005)
    with open(out, "w") as fh:
        fh.write("\\n".join(f"{x:.6f}" for x in lat))
""")


def make_registry(path: Path, target_bytes: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("CREATE TABLE archives (id INTEGER PRIMARY KEY, name TEXT UNIQUE, payload TEXT)")
    row = 0
    while path.stat().st_size < target_bytes:
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO archives (name, payload) VALUES (?, ?)",
            ((f"archive-{row + i:09d}.7z", os.urandom(400).hex()) for i in range(20000)),
        )
        conn.execute("COMMIT")
        row += 20000
    conn.close()


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def best(fn: Callable[[], object], runs: int, cleanup: Callable[[], None]) -> float:
    times = []
    for _ in range(runs):
        times.append(timed(fn))
        cleanup()
    return min(times)


def vacuum_into(src: Path, dst: Path) -> None:
    conn = sqlite3.connect(f"file:{src}?mode=ro", uri=True, isolation_level=None)
    conn.execute("VACUUM INTO ?", (str(dst),))
    conn.close()


def backup_api(src: Path, dst: Path) -> None:
    s = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    d = sqlite3.connect(dst)
    s.backup(d, pages=-1)
    d.close()
    s.close()


def clear(directory: Path) -> None:
    for p in directory.iterdir():
        p.unlink()


def speed(reg: Path, work: Path, runs: int) -> None:
    out = work / "out"
    out.mkdir(exist_ok=True)
    copy = out / "copy.db"
    t_cp = best(
        lambda: subprocess.run(["cp", str(reg), str(copy)], check=True), runs, lambda: clear(out)
    )
    t_cp_sync = best(
        lambda: subprocess.run(["sh", "-c", f"cp '{reg}' '{copy}' && sync '{copy}'"], check=True),
        runs,
        lambda: clear(out),
    )
    t_take = best(lambda: take_backup(reg, out), runs, lambda: clear(out))
    t_vac = best(lambda: vacuum_into(reg, copy), runs, lambda: clear(out))
    t_api = best(lambda: backup_api(reg, copy), runs, lambda: clear(out))
    size = reg.stat().st_size / 1e6
    print(f"  size {size:.0f} MB")
    print(f"  cp                {t_cp:7.2f} s")
    print(f"  cp + fsync        {t_cp_sync:7.2f} s")
    print(
        f"  take_backup       {t_take:7.2f} s   ratio vs cp {t_take / t_cp:5.1f}x, "
        f"vs cp+fsync {t_take / t_cp_sync:5.1f}x (includes fsync, integrity_check, sha256)"
    )
    print(f"  VACUUM INTO       {t_vac:7.2f} s")
    print(f"  backup(pages=-1)  {t_api:7.2f} s   VACUUM INTO / backup API = {t_vac / t_api:4.2f}")


def writer_latency(
    reg: Path, work: Path, wal: bool, backups: int, method: Callable[[Path, Path], object]
) -> tuple[list[float], float]:
    conn = sqlite3.connect(reg, isolation_level=None)
    conn.execute(f"PRAGMA journal_mode={'WAL' if wal else 'DELETE'}")
    conn.close()
    lat_file, stop = work / "lat.txt", work / "stop"
    for p in (lat_file, stop, Path(str(lat_file) + ".ready")):
        p.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(reg), str(lat_file), str(stop)])
    while not Path(str(lat_file) + ".ready").exists():
        time.sleep(0.01)
    time.sleep(0.3)
    out = work / "out"
    out.mkdir(exist_ok=True)
    spent = 0.0
    for _ in range(backups):
        spent += timed(lambda: method(reg, out))
        clear(out)
        time.sleep(0.1)
    if backups == 0:
        time.sleep(1.0)
    stop.touch()
    proc.wait()
    lat = [float(x) for x in lat_file.read_text().split()]
    return lat, spent


def describe(lat: list[float]) -> str:
    lat = sorted(lat)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    return (
        f"commits {len(lat):5d}  median {statistics.median(lat) * 1e3:7.2f} ms  "
        f"p99 {p99 * 1e3:8.2f} ms  worst {lat[-1] * 1e3:8.2f} ms"
    )


def latency(reg: Path, work: Path, backups: int) -> None:
    for wal in (False, True):
        mode = "WAL" if wal else "rollback journal"
        base, _ = writer_latency(reg, work, wal, 0, take_backup)
        print(f"  {mode:16s} no backup          {describe(base)}")
        for label, method in (
            ("take_backup", take_backup),
            ("backup(pages=-1)", lambda r, o: backup_api(r, o / "copy.db")),
        ):
            lat, spent = writer_latency(reg, work, wal, backups, method)
            print(f"  {mode:16s} {label:18s} {describe(lat)}  ({backups} backups, {spent:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="100,1000", help="registry sizes in MB (default 100,1000)"
    )
    parser.add_argument("--quick", action="store_true", help="100 MB only, one run each")
    parser.add_argument(
        "--dir", type=Path, default=None, help="work directory (default: a temp dir)"
    )
    args = parser.parse_args()
    sizes = [100] if args.quick else [int(s) for s in args.sizes.split(",")]
    runs = 1 if args.quick else 3
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        work = Path(tmp)
        print(
            f"SQLite {sqlite3.sqlite_version}, Python {sys.version.split()[0]}, "
            f"{os.cpu_count()} CPUs"
        )
        for mb in sizes:
            reg = work / f"registry-{mb}.db"
            print(f"\n== {mb} MB registry (generating ...)", flush=True)
            make_registry(reg, mb * 1_000_000)
            speed(reg, work, runs if mb < 1000 else 1)
            print("  writer committing every 5 ms while backups run:")
            latency(reg, work, backups=3 if mb < 1000 else 1)
            reg.unlink()
            for suffix in ("-wal", "-shm"):
                Path(str(reg) + suffix).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
