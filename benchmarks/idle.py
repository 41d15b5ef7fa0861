"""Idle cost of `zarchd run`: CPU seconds over a quiet period and resident memory.

Usage: python -m benchmarks.idle [--seconds 60]
Starts a daemon on a copy of the 7zarch-go fixture in a temp dir, lets it settle (catch-up backup
done), then reads /proc/<pid>/stat and /proc/<pid>/status before and after the quiet period.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.harness import Daemon, wait_for  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    for var in [v for v in os.environ if v.startswith("ZARCH_")]:
        del os.environ[var]  # the daemon started here must never use the caller's registry
    with tempfile.TemporaryDirectory(prefix="zarchd-idle-") as tmp:
        root = Path(tmp)
        for var in ("XDG_STATE_HOME", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME"):
            (root / var).mkdir()
            os.environ[var] = str(root / var)
        registry = root / "reg" / "registry.db"
        registry.parent.mkdir()
        shutil.copyfile(ROOT / "tests" / "data" / "registry-0005.db", registry)
        with Daemon(root, registry, config='[backup]\ninterval = "1h"\n') as d:
            d.start()
            wait_for(lambda: list(registry.parent.glob("registry-*.bak")), what="catch-up backup")
            time.sleep(2)
            assert d.proc is not None
            pid = d.proc.pid
            cpu0, t0 = cpu_seconds(pid), time.monotonic()
            time.sleep(args.seconds)
            cpu1, t1 = cpu_seconds(pid), time.monotonic()
            print(f"idle period          {t1 - t0:.1f} s")
            print(
                f"CPU used while idle  {cpu1 - cpu0:.3f} s  "
                f"({(cpu1 - cpu0) / (t1 - t0) * 100:.3f}% of one core)"
            )
            print(f"RSS                  {rss_kib(pid) / 1024:.1f} MiB")
            print(f"threads              {threads(pid)}")


if __name__ == "__main__":
    main()
