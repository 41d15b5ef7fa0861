"""`zarchctl backup --local` as a person sees it: on a real pseudo-terminal, piped, and --json."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import time
from pathlib import Path

from tests.cli.terminal import Pty, screen
from tests.conftest import make_baseline_registry
from tests.e2e.harness import command, ctl

STAGES = ["copy", "check"]  # a backup's stages, in order (check also hashes and fsyncs)
FINISHED = re.compile(r"^\[\d+:\d\d\] (\w+) (.*)$")


def run_on_terminal(registry: Path, *args: str) -> tuple[str, str, int]:
    """`zarchctl ARGS` with stderr on a real pseudo-terminal: (what it drew, stdout, exit code)."""
    term = Pty()
    try:
        proc = subprocess.Popen(
            [*command("zarchctl"), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=term.stream,
            env={**os.environ, "ZARCH_REGISTRY": str(registry)},
        )
        term.stream.close()  # the child holds the slave now: EOF on the master when it exits
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            select.select([term.master], [], [], 1.0)
            before = len(term.raw)
            term.read()
            if len(term.raw) == before and proc.poll() is not None:
                break
        stdout = proc.communicate(timeout=60)[0].decode()
        return term.raw, stdout, proc.returncode
    finally:
        os.close(term.master)


def test_backup_on_a_terminal_shows_each_stage_and_ends_clean(tmp_path: Path) -> None:
    registry = make_baseline_registry(tmp_path / "registry.db", rows=20_000)
    raw, stdout, code = run_on_terminal(registry, "backup", "--local")
    assert code == 0 and "Traceback" not in raw + stdout, raw + stdout
    assert "written" in stdout  # the result on stdout, progress on the terminal
    lines = screen(raw)
    # One finished line per stage, in order; the running line erased, the cursor on a new line.
    assert lines[-1] == "", lines
    finished = [FINISHED.match(line) for line in lines[:-1]]
    assert [m.group(1) for m in finished if m] == STAGES, lines
    copy, check = finished[0], finished[1]
    assert copy and check
    # Bytes in binary units with a rate; the check (SQLite says nothing inside it) its time.
    assert re.fullmatch(r"[\d.]+ MiB in [\d.]+s, [\d.]+ [KMG]iB/s", copy.group(2)), copy.group(0)
    assert re.fullmatch(r"done in [\d.]+s", check.group(2)), check.group(0)
    assert "\x1b[J" in raw  # drawn in place
    drawn = [float(v) for v in re.findall(r"copy ([\d.]+) MiB", raw)]
    assert drawn == sorted(drawn)  # never backwards within the stage


def test_piped_progress_has_plain_lines_and_json_has_none(tmp_path: Path) -> None:
    registry = make_baseline_registry(tmp_path / "registry.db", rows=2_000)
    piped = ctl(registry, "backup", "--local")
    assert piped.returncode == 0, piped.stderr
    assert "\r" not in piped.stderr and "\x1b" not in piped.stderr
    stages = [m.group(1) for m in map(FINISHED.match, piped.stderr.splitlines()) if m]
    assert stages == [s for s in STAGES for _ in ("started", "ended")], piped.stderr
    assert re.search(r"copy [\d.]+ [KM]iB in [\d.]+s, [\d.]+ [KMG]iB/s", piped.stderr)
    as_json = ctl(registry, "backup", "--local", "--json")
    assert as_json.returncode == 0 and as_json.stderr == ""
    assert json.loads(as_json.stdout)["backup"]["name"]
