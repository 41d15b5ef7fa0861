"""[notify] end to end: hook commands (a real script writing its environment to a file), pings
seen by a real HTTP server on 127.0.0.1, and the metrics file parsed back."""

from __future__ import annotations

import http.server
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_0005
from tests.inprocess import QUIET, DaemonThread, FixedClock, config_in, wait_for
from zarchd.core.errors import ZarchError
from zarchd.daemon import hooks, pinger
from zarchd.daemon.metrics import JobMetrics, render
from zarchd.daemon.worker import Worker


def _registry(root: Path) -> Path:
    registry = root / "reg" / "registry.db"
    registry.parent.mkdir()
    shutil.copyfile(FIXTURE_0005, registry)
    return registry


class PingServer:
    """A real HTTP server in a thread that records the path of every request it answers."""

    def __init__(self, delay: float = 0.0) -> None:
        self.paths: list[str] = []
        self.bodies: list[str] = []
        self.release = threading.Event()
        seen = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                if delay:  # a slow server: holds the request until the test lets it go
                    seen.release.wait(delay)
                seen.paths.append(self.path)
                seen.bodies.append(body)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"OK")

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ping/abc"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server() -> Iterator[PingServer]:
    s = PingServer()
    yield s
    s.close()


def _hook_script(root: Path, name: str) -> list[str]:
    """A hook that appends its ZARCH_* environment, one event per line, to <name>.log."""
    out = root / f"{name}.log"
    script = root / f"{name}.sh"
    script.write_text(
        "#!/bin/sh\n"
        f'printf "%s|%s|%s|%s|%s\\n" "$ZARCH_EVENT" "$ZARCH_JOB" "$ZARCH_BACKUP" '
        f'"$ZARCH_REGISTRY" "$ZARCH_MESSAGE" >> "{out}"\n'
    )
    script.chmod(0o755)
    return [str(script)]


def _lines(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    return [line.split("|") for line in path.read_text().splitlines()]


METRIC_LINE = re.compile(r'^[a-z_]+(\{[a-z_]+="[^"]*"\})? -?[0-9.e+-]+$')


def _parse_metrics(text: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        assert METRIC_LINE.match(line), f"malformed metric line: {line!r}"
        key, value = line.rsplit(" ", 1)
        values[key] = float(value)
    return values


def test_hooks_pings_and_metrics_end_to_end(
    root: Path, clock: FixedClock, server: PingServer
) -> None:
    registry = _registry(root)
    good = registry.read_bytes()
    toml = "\n".join(
        [
            QUIET + "[notify]",
            f"on_failure = {_hook_script(root, 'failure')!r}".replace("'", '"'),
            f"on_recovery = {_hook_script(root, 'recovery')!r}".replace("'", '"'),
            f"on_success = {_hook_script(root, 'success')!r}".replace("'", '"'),
            f'ping_url = "{server.url}"',
            'metrics_file = "textfile/zarchd.prom"',
            "",
        ]
    )
    cfg, path = config_in(root, registry, toml)
    metrics_file = root / "textfile" / "zarchd.prom"
    with DaemonThread(cfg, config_path=path, now=clock) as d:
        # The catch-up backup at start is scheduled work: /start, then the bare URL.
        wait_for(lambda: server.paths[:2] == ["/ping/abc/start", "/ping/abc"], what="pings")
        wait_for(lambda: len(_lines(root / "success.log")) == 1, what="the success hook")
        event, job, backup, reg, message = _lines(root / "success.log")[0]
        assert (event, job, reg) == ("success", "backup", str(registry))
        assert backup.startswith("registry-") and backup in message
        # The catch-up integrity check at start runs after the catch-up backup: damaging the
        # registry before it ends would make it a second failure (and a second /fail ping).
        wait_for(lambda: d.daemon.ops.state.get("last_check"), what="the catch-up check")
        assert d.daemon.ops.state.get("last_check")["ok"] is True

        # A damaged registry: the scheduled backup fails -> failure hook and /fail.
        registry.write_bytes(b"\0" * len(good))
        clock.advance(hours=2)
        d.daemon.run_backup("scheduled")
        wait_for(lambda: "/ping/abc/fail" in server.paths, what="the fail ping")
        wait_for(lambda: _lines(root / "failure.log"), what="the failure hook")
        event, job, backup, _, message = _lines(root / "failure.log")[0]
        assert (event, job, backup) == ("failure", "backup", "") and message

        # Good again: the next backup succeeds -> recovery, then success.
        registry.write_bytes(good)
        clock.advance(hours=2)
        d.call("backup")
        wait_for(lambda: _lines(root / "recovery.log"), what="the recovery hook")
        assert _lines(root / "recovery.log")[0][:2] == ["recovery", "backup"]
        wait_for(lambda: len(_lines(root / "success.log")) == 2, what="the second success")
        # Only scheduled work pings: the backup asked for through zarchctl did not.
        assert server.paths == ["/ping/abc/start", "/ping/abc", "/ping/abc/start", "/ping/abc/fail"]

        def written() -> dict[str, float]:
            return _parse_metrics(metrics_file.read_text()) if metrics_file.exists() else {}

        wait_for(lambda: written().get('zarchd_job_last_ok{job="backup"}') == 1.0, what="metrics")
        values = written()
        assert values['zarchd_job_failures_total{job="backup"}'] == 1
        assert values['zarchd_job_last_success_timestamp_seconds{job="backup"}'] == (
            clock.now.timestamp()
        )
        assert values["zarchd_backups_count"] == 2
        assert values["zarchd_registry_size_bytes"] == len(good)
        assert values["zarchd_registry_pages"] * 4096 >= len(good) > 0
        assert values["zarchd_backup_last_size_bytes"] > 0
        # The two backups are the same file under two names (identical: a hard link): once.
        assert values["zarchd_backups_size_bytes"] == values["zarchd_backup_last_size_bytes"]
        assert metrics_file.stat().st_mode & 0o777 == 0o644  # node_exporter may read it
        assert not list(metrics_file.parent.glob(".*.tmp"))  # written whole, by rename


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hc"


@pytest.mark.parametrize("kind", ["down", "slow"])
def test_a_down_or_slow_ping_server_never_blocks_a_backup(
    root: Path, clock: FixedClock, kind: str
) -> None:
    slow = PingServer(delay=30.0) if kind == "slow" else None
    url = slow.url if slow else _closed_port_url()
    cfg, path = config_in(root, _registry(root), QUIET + f'[notify]\nping_url = "{url}"\n')
    try:
        with DaemonThread(cfg, config_path=path, now=clock) as d:
            clock.advance(hours=2)
            d.daemon.run_backup("scheduled")  # the registry is unchanged: skipped, still pinged
            begun = time.monotonic()
            clock.advance(hours=2)
            d.call("backup")
            d.daemon.run_backup("scheduled")
            assert time.monotonic() - begun < 5.0
            stopping = time.monotonic()
        assert time.monotonic() - stopping < 10.0  # shutdown stays bounded too
    finally:
        if slow:
            slow.close()


def test_ping_retries_then_reaches_the_server(server: PingServer) -> None:
    assert pinger.ping(server.url + "?x=1", "fail", "boom", timeout=5.0) is True
    assert server.paths == ["/ping/abc/fail?x=1"] and server.bodies == ["boom"]
    begun = time.monotonic()
    assert pinger.ping(_closed_port_url(), "start", attempts=3, retry_wait=0.05) is False
    assert time.monotonic() - begun < 5.0


def test_a_hook_is_never_a_shell_and_times_out(tmp_path: Path) -> None:
    out = tmp_path / "out"
    marker = tmp_path / "injected"
    # The message holds shell syntax: passed as data in the environment, it never runs.
    event = {"ZARCH_EVENT": "failure", "ZARCH_MESSAGE": f"x; touch {marker}"}
    argv = ["sh", "-c", f'printf "%s" "$ZARCH_MESSAGE" > {out}']
    assert hooks.run_hook(argv, event, timeout=10.0) is True
    assert out.read_text() == f"x; touch {marker}" and not marker.exists()
    begun = time.monotonic()
    assert hooks.run_hook(["sleep", "30"], event, timeout=0.3) is False
    assert time.monotonic() - begun < 5.0
    assert hooks.run_hook(["false"], event) is False
    assert hooks.run_hook([str(tmp_path / "missing")], event) is False


def test_metrics_render_is_well_formed_and_escapes_labels() -> None:
    jobs = JobMetrics()
    jobs.add({"job": "backup", "ok": True, "duration_s": 1.5, "size_bytes": 4096}, 100.0)
    jobs.add({"job": "check", "ok": False, "duration_s": 0.25}, 200.0)
    jobs.add({"job": "migrate", "ok": True, "durations": {'00"06': 0.5}}, 300.0)
    jobs.add({"job": "backup", "ok": False, "cancelled": "stopping"}, 400.0)  # not an outcome
    values = _parse_metrics(render(jobs, {"zarchd_backups_count": 3}).replace('\\"', "'"))
    assert values['zarchd_job_last_success_timestamp_seconds{job="backup"}'] == 100.0
    assert values['zarchd_job_last_duration_seconds{job="check"}'] == 0.25
    assert values['zarchd_job_failures_total{job="check"}'] == 1
    assert values['zarchd_job_last_ok{job="backup"}'] == 1
    assert values['zarchd_migration_duration_seconds{id="00\'06"}'] == 0.5
    assert values["zarchd_backup_last_size_bytes"] == 4096
    assert values["zarchd_backups_count"] == 3


def test_recovery_is_told_after_a_restart(root: Path, clock: FixedClock) -> None:
    """The failure is remembered in the job history: the first success after a restart is a
    recovery."""
    registry = _registry(root)
    good = registry.read_bytes()
    registry.write_bytes(b"\0" * len(good))
    toml = QUIET + "[notify]\n" + f"on_recovery = {_hook_script(root, 'recovery')!r}\n"
    cfg, path = config_in(root, registry, toml.replace("'", '"'))
    with DaemonThread(cfg, config_path=path, now=clock) as d:
        wait_for(lambda: d.daemon.ops and d.daemon.ops.state.get("history"), what="a failure")
        d.daemon.run_backup("scheduled")
    assert not _lines(root / "recovery.log")
    registry.write_bytes(good)
    clock.advance(hours=2)
    with DaemonThread(cfg, config_path=path, now=clock):
        wait_for(
            lambda: ["recovery", "backup"] in [x[:2] for x in _lines(root / "recovery.log")],
            what="the recovery hook",
        )


def test_a_full_or_stopped_worker_drops_instead_of_blocking() -> None:
    worker = Worker("test", limit=1)  # not started: nothing takes tasks off the queue
    assert worker.submit("first", lambda: None) is True
    assert worker.submit("second", lambda: None) is False
    worker.stop(0.1)
    assert worker.submit("late", lambda: None) is False


def test_a_refused_request_is_neither_a_failure_nor_makes_a_recovery(
    root: Path, clock: FixedClock
) -> None:
    """A request the daemon refused (here: restore of a name that is not a backup) is the
    caller's answer: no failure hook, and the next success is no "recovery"."""
    registry = _registry(root)
    toml = (
        QUIET
        + "[notify]\n"
        + f"on_failure = {_hook_script(root, 'failure')!r}\n"
        + f"on_recovery = {_hook_script(root, 'recovery')!r}\n"
        + f"on_success = {_hook_script(root, 'success')!r}\n"
    )
    cfg, path = config_in(root, registry, toml.replace("'", '"'))
    with DaemonThread(cfg, config_path=path, now=clock) as d:
        with pytest.raises(ZarchError):
            d.call("restore", {"name": "registry-20200101-000000-zarchd.bak"})
        d.call("backup")
        wait_for(lambda: _lines(root / "success.log"), what="the success hook after the backup")
    assert not _lines(root / "failure.log") and not _lines(root / "recovery.log")
