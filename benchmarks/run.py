"""Every figure of issue 16 with its baseline in the same run, repeated, in one table.

    python -m benchmarks            # full: 1M-row migration, 100 MB and 1 GB backups, 5 repeats
    python -m benchmarks --quick    # under 2 minutes: 20k rows, 100 MB, 3 repeats
    python -m benchmarks --only status

Ratios are medians of zarchd over medians of the baseline, both measured in this run, so they
hold on a loaded machine better than the absolute times do.
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import zarchd
from benchmarks import backup, daemon, migrate
from benchmarks.common import Row

GROUPS = ("migrate", "backup", "status", "listing", "imports")


def fmt(values: list[float]) -> str:
    if not values:
        return "-"
    lo, mid, hi = min(values), statistics.median(values), max(values)
    if mid < 1:
        return f"{lo * 1e3:.0f}/{mid * 1e3:.0f}/{hi * 1e3:.0f} ms"
    return f"{lo:.2f}/{mid:.2f}/{hi:.2f} s"


def table(rows: list[Row]) -> str:
    head = ("figure", "zarchd min/med/max", "baseline", "min/med/max", "ratio", "goal", "met")
    body = []
    for r in rows:
        ratio = r.ratio()
        body.append(
            (
                r.figure,
                r.failed or fmt(r.values),
                r.baseline,
                fmt(r.base_values),
                f"{ratio:.2f}x" if ratio is not None else "-",
                r.goal or "-",
                r.met(),
            )
        )
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(cells) + " |" for cells in body]
    notes = [f"- {r.figure}: {r.note}" for r in rows if r.note]
    return "\n".join(out + (["", *notes] if notes else []))


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    disk = subprocess.run(
        ["df", "-hT", tempfile.gettempdir()], capture_output=True, text=True
    ).stdout.splitlines()[-1:]
    fs = " ".join(disk[0].split()[:2]) if disk else "?"
    return (
        f"{os.cpu_count()} CPUs ({cpu}); temp dir on {fs};"
        f" Python {platform.python_version()}, SQLite {sqlite3.sqlite_version};"
        f" {platform.system()} {platform.release()}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--only", choices=GROUPS, action="append", help="run only this group")
    parser.add_argument("--repeat", type=int, default=None, help="repeats (default 5, quick 3)")
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: temp)")
    args = parser.parse_args(argv)
    for var in [v for v in os.environ if v.startswith("ZARCH_")]:
        del os.environ[var]  # the caller's registry or socket must never be touched
    quick = args.quick
    repeat = args.repeat or (3 if quick else 5)
    rows_n = 20_000 if quick else 1_000_000
    sizes = [100] if quick else [100, 1000]
    per_client = 20 if quick else 100
    only = set(args.only or GROUPS)
    work = Path(tempfile.mkdtemp(prefix="zarchd-bench-", dir=args.dir))
    rows: list[Row] = []
    imports: list[str] = []
    started = time.monotonic()
    print(f"# {machine()}", flush=True)
    # As installed (pip compiles every module): from a checkout run with PYTHONDONTWRITEBYTECODE
    # no .pyc is ever written, and each zarchctl run compiled ~85 modules first (~0.1 s).
    compileall.compile_dir(Path(zarchd.__file__).parent, quiet=1)
    steps: list[tuple[str, Callable[[], list[Row]]]] = [
        ("migrate", lambda: migrate.run(work / "m", rows_n, repeat)),
        ("backup", lambda: backup.run(work / "b", sizes, repeat)),
        ("status", lambda: daemon.status_load(work / "s", repeat, per_client)),
        ("listing", lambda: daemon.many_backups(work / "l", 10_000, repeat)),
    ]
    try:
        for name, step in steps:
            if name not in only:
                continue
            print(f"# {name} ...", file=sys.stderr, flush=True)
            os.sync()  # the last step's files written out first, not under the next one's figures
            (work / name[0]).mkdir()
            try:
                got = step()
            except Exception as exc:  # one broken figure must not hide the others
                got = [Row(name, [], failed=f"{type(exc).__name__}: {exc}"[:200])]
            print(table(got), file=sys.stderr, flush=True)  # kept even if a later step hangs
            rows += got
        if "imports" in only:
            rows += daemon.import_rows(repeat)
            imports = daemon.import_time()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(table(rows))
    if imports:
        print("\nimport zarchd.cli.zarchctl, top cumulative (python -X importtime):")
        print("\n".join(imports))
    took = time.monotonic() - started
    print(f"\n# {'quick' if quick else 'full'} run, {repeat} repeats, {took:.0f} s")
    return 1 if any(r.failed for r in rows) else 0
