"""What every benchmark shares: an isolated environment, registries of the real schema, timing.

Registries are never made up: a baseline registry has 7zarch-go's baseline archives table (the
DDL zarchd's own catalog knows), and a 0005 registry is a copy of the fixture 7zarch-go wrote,
grown with rows of the same shape.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from zarchd.migrations import ddl

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "data" / "registry-0005.db"
BUSY_TIMEOUT_S = 5.0  # 7zarch-go's: an application write waits at most this long for a lock
PROFILES = ("media", "documents", "balanced")


@dataclass
class Row:
    """One line of the table: zarchd's figure, its baseline measured in the same run, the goal."""

    figure: str
    values: list[float]
    baseline: str = ""
    base_values: list[float] = field(default_factory=list)
    unit: str = "s"
    max_ratio: float | None = None  # goal: median ratio at or under this
    worst_too: bool = False  # the goal also holds for the worst of each side (max vs max)
    max_value: float | None = None  # goal: median at or under this (absolute)
    goal: str = ""
    note: str = ""
    failed: str = ""

    def ratio(self) -> float | None:
        if not self.values or not self.base_values:
            return None
        base = statistics.median(self.base_values)
        return statistics.median(self.values) / base if base > 0 else None

    def worst_ratio(self) -> float | None:
        """The worst of zarchd's figures against the worst of its baseline's."""
        if not self.values or not self.base_values or max(self.base_values) <= 0:
            return None
        return max(self.values) / max(self.base_values)

    def met(self) -> str:
        if self.failed:
            return "FAILED"
        verdicts = []
        ratio = self.ratio()
        if self.max_ratio is not None:
            verdicts.append(ratio is not None and ratio <= self.max_ratio)
            if self.worst_too:
                worst = self.worst_ratio()
                verdicts.append(worst is not None and worst <= self.max_ratio)
        if self.max_value is not None and self.values:
            verdicts.append(statistics.median(self.values) <= self.max_value)
        if not verdicts:
            return "-"
        return "yes" if all(verdicts) else "NO"


def isolated_env(home: Path) -> dict[str, str]:
    """The caller's environment without ZARCH_* and XDG_*, with a private HOME and XDG dirs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZARCH_", "XDG_", "COVERAGE_"))}
    env["HOME"] = str(home)
    env["PYTHONPATH"] = str(ROOT)
    for var, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_RUNTIME_DIR", "run"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
    ):
        (home / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
        env[var] = str(home / sub)
    return env


def _archive(i: int) -> tuple[object, ...]:
    return (
        f"archive-{i:07d}.7z",
        f"/data/archives/2024/archive-{i:07d}.7z",
        1000 + i * 7,
        f"2024-{1 + i % 12:02d}-{1 + i % 28:02d} 10:{i % 60:02d}:{i % 59:02d}",
        f"sha256:{i:064x}",
        PROFILES[i % 3],
        i % 2,
        "s3" if i % 5 == 0 else None,
        None,
        f'{{"source": "bench", "n": {i}, "tags": ["a", "b"]}}' if i % 4 == 0 else None,
    )


def make_baseline(path: Path, rows: int) -> Path:
    """A registry from before 7zarch-go had migrations: the baseline archives table only."""
    conn = sqlite3.connect(path)
    conn.execute(ddl.ARCHIVES_BASELINE)
    for start in range(0, rows, 50_000):
        conn.executemany(
            "INSERT INTO archives (name, path, size, created, checksum, profile, uploaded,"
            " destination, uploaded_at, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (_archive(i) for i in range(start, min(rows, start + 50_000))),
        )
        conn.commit()
    conn.close()
    return path


def make_0005(path: Path, target_bytes: int) -> Path:
    """The fixture 7zarch-go wrote (schema 0005, rollback journal), grown to `target_bytes`."""
    shutil.copyfile(FIXTURE, path)
    conn = sqlite3.connect(path)
    i = 0
    while path.stat().st_size < target_bytes:
        conn.executemany(
            "INSERT INTO archives (uid, name, path, size, created, checksum, profile, managed,"
            " status, uploaded, destination, metadata, original_path)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 1, 'present', ?, ?, ?, '')",
            (
                (f"01HB{i + k:022d}", *a[:7], a[7] or "", a[9] or "")
                for k in range(20_000)
                for a in (_archive(i + k),)
            ),
        )
        conn.commit()
        i += 20_000
    conn.close()
    return path


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def paired(
    a: Callable[[], object],
    b: Callable[[], object],
    repeat: int,
    cleanup: Callable[[], None] = lambda: None,
) -> tuple[list[float], list[float]]:
    """A and B in turn (A B A B ...), so a machine that slows down mid-run slows both."""
    ta, tb = [], []
    for _ in range(repeat):
        ta.append(timed(a))
        cleanup()
        tb.append(timed(b))
        cleanup()
    return ta, tb


def run_quiet(argv: list[str], env: dict[str, str] | None = None) -> None:
    """A whole process, its output discarded; a failure is an error of the benchmark."""
    proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[:4]} exited {proc.returncode}: {proc.stderr[-400:]!r}")


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


PY = sys.executable
