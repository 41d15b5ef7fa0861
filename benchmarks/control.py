"""Control-socket speed: `status` round trips and the wall time of a whole `zarchctl status`.

- round-trip latency (p50/p99) of `status` through zarchd.control.client.call (a new connection
  per call, as zarchctl makes), with 1 client and with 32 concurrent client processes, against a
  ControlServer whose handler really reads a small SQLite registry (schema, migrations, sizes);
- the transport floor: `ping` over one kept-open connection;
- process wall times: `python -c pass`, `import zarchd.control.client` + one call, and a whole
  `zarchctl status --json` against a real `zarchd run` daemon (skipped, with a note, if the
  daemon cannot start here).

    python benchmarks/control.py            # 2000 sequential calls, 32 x 200 concurrent
    python benchmarks/control.py --quick
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zarchd.control.client import call  # noqa: E402
from zarchd.control.server import ControlServer  # noqa: E402
from zarchd.core.progress import Progress  # noqa: E402

FIXTURE = ROOT / "tests" / "data" / "registry-0005.db"


class SchemaStatus:
    """A status-sized answer read from a real SQLite file on every call (no caching)."""

    def __init__(self, registry: Path) -> None:
        self.registry = registry
        self.started = time.monotonic()

    def __call__(self, method: str, params: dict[str, Any], progress: Progress) -> Any:
        if method != "status":
            return {"pong": True}
        conn = sqlite3.connect(f"file:{self.registry}?mode=ro", uri=True)
        try:
            tables = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")
            ]
            applied = [
                {"id": i, "name": n, "applied_at": a}
                for i, n, a in conn.execute(
                    "SELECT id, name, applied_at FROM schema_migrations ORDER BY id"
                )
            ]
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
        finally:
            conn.close()
        return {
            "daemon": {
                "running": True,
                "pid": os.getpid(),
                "version": "0.1.0",
                "uptime_s": time.monotonic() - self.started,
                "paused": False,
            },
            "registry": {
                "path": str(self.registry),
                "exists": True,
                "size_bytes": self.registry.stat().st_size,
                "integrity": "ok",
                "schema_version": applied[-1]["id"] if applied else None,
                "applied": applied,
                "pending": [],
                "tables": tables,
                "pages": pages,
            },
            "backups": {
                "dir": str(self.registry.parent),
                "count": 0,
                "total_bytes": 0,
                "next_run": None,
                "latest": None,
            },
            "last_error": None,
        }


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def line(label: str, lat: list[float]) -> str:
    ms = [v * 1000 for v in lat]
    return (
        f"  {label:<44} p50 {pct(ms, 0.50):6.3f} ms   p99 {pct(ms, 0.99):6.3f} ms   "
        f"max {max(ms):7.3f} ms   n={len(ms)}"
    )


def timed_calls(path: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        call(Path(path), "status", timeout=30)
        out.append(time.perf_counter() - t)
    return out


def _client_process(path: str, n: int, barrier: Any, results: Any) -> None:
    barrier.wait()
    results.put(timed_calls(path, n))


def concurrent(path: Path, clients: int, per_client: int) -> tuple[list[float], float]:
    """`clients` processes (not threads: the GIL would serialise them) start together."""
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(clients + 1), ctx.Queue()
    procs = [
        ctx.Process(target=_client_process, args=(str(path), per_client, barrier, results))
        for _ in range(clients)
    ]
    for proc in procs:
        proc.start()
    barrier.wait(60)
    t = time.perf_counter()
    lat = [v for _ in procs for v in results.get(timeout=300)]
    took = time.perf_counter() - t
    for proc in procs:
        proc.join(30)
    return lat, took


def kept_open_ping(path: Path, n: int) -> list[float]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(path))
    stream = sock.makefile("rb")
    out = []
    for i in range(n):
        t = time.perf_counter()
        sock.sendall(b'{"id":%d,"method":"ping"}\n' % i)
        stream.readline()
        out.append(time.perf_counter() - t)
    sock.close()
    return out


def wall(argv: list[str], runs: int, env: dict[str, str] | None = None) -> tuple[float, int]:
    times, code = [], 0
    for _ in range(runs):
        t = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, env=env)
        times.append(time.perf_counter() - t)
        code = code or proc.returncode
    return statistics.median(times), code


def real_daemon(work: Path, runs: int) -> None:
    """Start `zarchd run` on a copy of the registry and time whole `zarchctl status` processes."""
    home = work / "home"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(home)}
    for var, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_RUNTIME_DIR", "run"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
    ):
        (home / sub).mkdir(parents=True, mode=0o700)
        env[var] = str(home / sub)
    registry = work / "daemon" / "registry.db"
    registry.parent.mkdir()
    shutil.copyfile(FIXTURE, registry)
    sock = work / "d.sock"
    config = work / "zarchd.toml"
    config.write_text(
        f'[registry]\npath = "{registry}"\n[backup]\non_change = false\ninterval = "24h"\n'
        f'[migrations]\nauto = false\n[control]\nsocket = "{sock}"\n'
    )
    daemon = subprocess.Popen(
        [sys.executable, "-m", "zarchd", "run", "--config", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not sock.exists() and daemon.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if not sock.exists():
            daemon.kill()
            print(
                f"  zarchctl status (real daemon): skipped, `zarchd run` did not start: "
                f"{(daemon.communicate()[1] or '').strip()[-300:]}"
            )
            return
        time.sleep(0.5)  # let start-up work (catch-up backup/check) settle
        print(line("status, real daemon (Operations.status)", timed_calls(str(sock), 200)))
        argv = [
            sys.executable,
            "-m",
            "zarchd.cli.zarchctl",
            "status",
            "--json",
            "--config",
            str(config),
        ]
        median, code = wall(argv, runs, env)
        print(
            f"  {'zarchctl status --json (whole process)':<44} "
            f"median {median * 1000:7.1f} ms   exit {code}"
        )
        argv_h = argv[:4] + argv[5:]
        median, code = wall(argv_h, runs, env)
        print(
            f"  {'zarchctl status (human output)':<44} median {median * 1000:7.1f} ms   exit {code}"
        )
    finally:
        daemon.terminate()
        try:
            daemon.wait(10)
        except subprocess.TimeoutExpired:
            daemon.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    seq, per_client, runs = (300, 30, 5) if args.quick else (2000, 200, 15)
    work = Path(tempfile.mkdtemp(prefix="zcb-", dir="/tmp"))
    try:
        registry = work / "registry.db"
        shutil.copyfile(FIXTURE, registry)
        server = ControlServer(
            work / "s.sock", SchemaStatus(registry), idle_timeout=60, max_workers=8
        )
        server.start()
        try:
            status_bytes = len(json.dumps(call(server.address, "status")))
            print(
                f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; "
                f"status answer {status_bytes} bytes; "
                f"handler reads {registry.name} ({registry.stat().st_size} bytes) on every call"
            )
            print("round trips over the socket (client.call: one connection per call):")
            timed_calls(str(server.address), 50)  # warm-up
            lat, _ = concurrent(server.address, 1, seq)  # a separate process, as zarchctl is
            print(line("status, 1 client process", lat))
            lat, took = concurrent(server.address, 32, per_client)
            print(
                line("status, 32 concurrent client processes", lat)
                + f"   {len(lat) / took:,.0f} calls/s"
            )
            print(
                line(
                    "ping, 1 kept-open connection (transport floor)",
                    kept_open_ping(server.address, seq),
                )
            )
            print("process wall time (median):")
            bare, _ = wall([sys.executable, "-c", "pass"], runs)
            one = (
                f"import sys; from pathlib import Path; sys.path.insert(0, {str(ROOT)!r}); "
                "from zarchd.control.client import call; "
                f"call(Path({str(server.address)!r}), 'status')"
            )
            client_only, code = wall([sys.executable, "-c", one], runs)
            print(f"  {'python -c pass':<44} median {bare * 1000:7.1f} ms")
            print(
                f"  {'python: import client + one status call':<44} "
                f"median {client_only * 1000:7.1f} ms   "
                f"exit {code}   (+{(client_only - bare) * 1000:.1f} ms over bare python)"
            )
        finally:
            server.stop()
        real_daemon(work, runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
