"""Status over the socket of a real `zarchd run`, listing and pruning many backups, and start-up.

Each daemon is a subprocess with its own temp HOME, config and socket, and the caller's ZARCH_*
environment removed; it is stopped and its socket removed at the end, even on error.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from benchmarks.common import FIXTURE, Row, isolated_env, pct, run_quiet
from zarchd.backups import names, take_backup
from zarchd.backups.meta import FORMAT
from zarchd.backups.sidecarindex import SETTLED_NS
from zarchd.control.client import call
from zarchd.core.clock import iso
from zarchd.core.errors import ZarchError

# The console script's entry point (pyproject.toml): status, health, ping, backups and prune
# start without Typer.
ZARCHCTL = [sys.executable, "-m", "zarchd.cli.ctl_entry"]
# What `zarchctl status` imports on its way to the socket, and the full Typer app.
STATUS_PATH_IMPORTS = "import zarchd.cli.ctl_entry, zarchd.cli.runner, zarchd.control.client"
APP_IMPORT = "import zarchd.cli.zarchctl"


class Daemon:
    """`zarchd run` on `registry` (backups beside it), quiet: no scheduled or on-change backup."""

    def __init__(self, root: Path, registry: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.env = isolated_env(root / "home")
        self.socket = root / "ctl.sock"
        self.config = root / "zarchd.toml"
        self.config.write_text(
            f'[registry]\npath = "{registry}"\n[backup]\ninterval = "24h"\non_change = false\n'
            f'[migrations]\nauto = false\n[control]\nsocket = "{self.socket}"\n'
        )
        self.log = root / "zarchd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Daemon:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "zarchd", "run", "--config", str(self.config)],
                env=self.env,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"zarchd run exited: {self.log.read_text()[-400:]}")
            try:
                call(self.socket, "ping", timeout=5)
                break
            except (ZarchError, OSError) as exc:
                if time.monotonic() > deadline:
                    tail = self.log.read_text()[-400:]
                    raise RuntimeError(f"zarchd did not answer: {tail}") from exc
                time.sleep(0.05)
        # Let the start-up jobs (catch-up backup or check, the first listing) finish: measured
        # load must not overlap them.
        while time.monotonic() < deadline:
            report = call(self.socket, "status", timeout=30)
            if report.get("last_check") and not report["registry"].get("integrity_stale"):
                break
            time.sleep(0.1)
        time.sleep(0.5)
        return self

    def __exit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.socket.unlink(missing_ok=True)

    def ctl(self, *args: str) -> list[str]:
        return [*ZARCHCTL, args[0], "--config", str(self.config), *args[1:]]


def fill_backups(registry: Path, count: int) -> None:
    """`count` backups of `registry` beside it, one a minute back in time: one real take_backup,
    the rest hard links of it with their own sidecar, as zarchd writes them."""
    first = take_backup(registry, registry.parent)
    meta = json.loads(names.sidecar_path(first.path).read_text())
    meta.pop("format")
    tz = names.local_tz()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    stem = names.stem_of(registry)
    for k in range(count - 1):
        when = start - timedelta(minutes=k)
        local = when.astimezone(tz)
        name = next(names.candidates(stem, local.replace(tzinfo=None)))
        os.link(first.path, registry.parent / name)
        offset = local.utcoffset()
        side = {
            **meta,
            "format": FORMAT,
            "name": name,
            "created_at": iso(when),
            "utc_offset_s": int(offset.total_seconds()) if offset else 0,
        }
        # What write_sidecar writes, without its fsync per file (10,000 fsyncs on a loaded disk
        # take minutes, and durability is no part of the figure).
        fd = os.open(names.sidecar_path(registry.parent / name), os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(side, indent=2, sort_keys=True) + "\n")


def _client(sock: str, method: str, n: int, barrier: Any, results: Any) -> None:
    barrier.wait()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        call(Path(sock), method, timeout=60)
        out.append(time.perf_counter() - t)
    results.put(out)


def concurrent(sock: Path, method: str, clients: int, per_client: int) -> list[float]:
    """Latencies of `clients` processes (not threads: the GIL) each calling `method` n times."""
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(clients + 1), ctx.Queue()
    procs = [
        ctx.Process(target=_client, args=(str(sock), method, per_client, barrier, results))
        for _ in range(clients)
    ]
    for p in procs:
        p.start()
    barrier.wait(60)
    lat = [v for _ in procs for v in results.get(timeout=600)]
    for p in procs:
        p.join(30)
    return lat


def whole(argv: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    run_quiet(argv, env)
    return time.perf_counter() - t


def whole_paired(
    a: list[str], b: list[str], env: dict[str, str], repeat: int
) -> tuple[list[float], list[float]]:
    whole(b, env)  # warm-up: the page cache (zarchd's .pyc files exist by now)
    ta, tb = [], []
    for _ in range(repeat):
        ta.append(whole(a, env))
        tb.append(whole(b, env))
    return ta, tb


def _p99_status_and_ping(
    socket: Path, repeat: int, per_client: int
) -> tuple[list[float], list[float]]:
    """p99 of status and of ping under 32 concurrent clients, alternately, `repeat` times."""
    st, pg = [], []
    for _ in range(repeat):
        st.append(pct(concurrent(socket, "status", 32, per_client), 0.99))
        pg.append(pct(concurrent(socket, "ping", 32, per_client), 0.99))
    return st, pg


def status_load(work: Path, repeat: int, per_client: int) -> list[Row]:
    reg = work / "reg" / "registry.db"
    reg.parent.mkdir(parents=True)
    shutil.copyfile(FIXTURE, reg)
    rows = []
    with Daemon(work / "d1", reg) as d:
        st, pg = _p99_status_and_ping(d.socket, repeat, per_client)
        rows.append(
            Row(
                "status p99, 32 concurrent clients",
                st,
                "ping p99, same load",
                pg,
                max_ratio=2.0,
                goal="<= 2x",
            )
        )
        one = [pct(concurrent(d.socket, "status", 1, per_client), 0.5) for _ in range(repeat)]
        ta, tb = whole_paired(d.ctl("status"), [sys.executable, "-c", "pass"], d.env, repeat)
        rows.append(
            Row(
                "whole `zarchctl status` (daemon up)",
                ta,
                "python3 -c pass",
                tb,
                max_ratio=5.0,
                max_value=0.150,
                goal="<= 5x, <= 150 ms",
            )
        )
    fill_backups(reg, 1000)
    with Daemon(work / "d2", reg) as d:
        many = [pct(concurrent(d.socket, "status", 1, per_client), 0.5) for _ in range(repeat)]
        st, pg = _p99_status_and_ping(d.socket, repeat, per_client)
    rows.append(
        Row(
            "status p99, 32 clients, 1,000 backups",
            st,
            "ping p99, same load",
            pg,
            max_ratio=2.0,
            goal="<= 2x",
        )
    )
    rows.append(
        Row(
            "status p50 with 1,000 backups, 1 client",
            many,
            "status p50, fixture with 1 backup",
            one,
            max_ratio=2.0,
            goal="<= 2x (item 3)",
        )
    )
    return rows


def many_backups(work: Path, count: int, repeat: int) -> list[Row]:
    reg = work / "many" / "registry.db"
    reg.parent.mkdir(parents=True)
    shutil.copyfile(FIXTURE, reg)
    fill_backups(reg, count)
    # 10,000 backups are weeks old in real life: the sidecar index remembers only sidecars
    # that have settled (SETTLED_NS), so wait that long, then let listings build the index
    # (the first reads every sidecar, the second records that each agrees with its name).
    time.sleep(SETTLED_NS / 1e9 + 0.5)
    d = Daemon(work / "d3", reg)  # its config and env only: these run --local, no daemon
    for _ in range(2):
        whole(d.ctl("backups", "--local"), d.env)
    rows = []
    ls = ["ls", str(reg.parent)]
    for label, args in (
        ("prune --dry-run", ("prune", "--dry-run", "--local")),
        ("backups (listing)", ("backups", "--local")),
    ):
        ta, tb = whole_paired(d.ctl(*args), ls, d.env, repeat)
        rows.append(
            Row(
                f"whole `zarchctl {label}`, {count:,} backups",
                ta,
                "ls of the directory",
                tb,
                max_value=0.300,
                goal="<= 300 ms",
            )
        )
    return rows


def _import_seconds(code: str, env: dict[str, str]) -> float:
    """Cumulative import time of zarchd's top-level imports in `code` (python -X importtime)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], env=env, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{code!r} failed: {proc.stderr[-400:]}")
    total = 0
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        # A top-level entry's name is indented by exactly one space.
        if len(parts) == 3 and parts[2].startswith(" zarchd") and parts[1].strip().isdigit():
            total += int(parts[1])
    return total / 1e6


def import_rows(repeat: int) -> list[Row]:
    """The status path's imports against the Typer app's, each measured in a fresh process."""
    env = isolated_env(Path(os.environ.get("TMPDIR", "/tmp")) / f"zb-imp-{os.getpid()}")
    try:
        _import_seconds(APP_IMPORT, env)  # warm-up: .pyc files and the page cache
        fast, app = [], []
        for _ in range(repeat):
            fast.append(_import_seconds(STATUS_PATH_IMPORTS, env))
            app.append(_import_seconds(APP_IMPORT, env))
    finally:
        shutil.rmtree(env["HOME"], ignore_errors=True)
    return [
        Row(
            "imports of `zarchctl status` (ctl_entry, runner, client)",
            fast,
            "import zarchd.cli.zarchctl (the Typer app)",
            app,
            note="-X importtime, cumulative; the status path never imports Typer",
        )
    ]


def import_time(top: int = 8) -> list[str]:
    """The modules that cost most to import for zarchctl (cumulative), from -X importtime."""
    env = isolated_env(Path(os.environ.get("TMPDIR", "/tmp")) / f"zb-imp-{os.getpid()}")
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import zarchd.cli.zarchctl"],
        env=env,
        capture_output=True,
        text=True,
    )
    shutil.rmtree(env["HOME"], ignore_errors=True)
    entries = []
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            entries.append((int(parts[1]), parts[2].rstrip()))
    entries.sort(reverse=True)
    return [f"  {us / 1000:7.1f} ms  {name.strip()}" for us, name in entries[:top]]
