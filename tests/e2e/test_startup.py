"""zarchctl's start-up: status, health and ping never import Typer (cli/ctl_entry.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_ping_through_the_fast_path_imports_no_typer(tmp_path: Path) -> None:
    # Not under coverage either (CI measures subprocesses): coverage itself imports sqlite3.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZARCH_", "COVERAGE_"))}
    env["HOME"] = str(tmp_path)
    sock = tmp_path / "none.sock"
    proc = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "zarchd.cli.ctl_entry",
            "ping",
            "--socket",
            str(sock),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 3, proc.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "zarchd.control.client" in imported  # the measurement saw the path's own imports
    assert not {m for m in imported if m.split(".")[0] in ("typer", "click", "rich")}
    assert "zarchd.app.operations" not in imported and "sqlite3" not in imported
    assert "ctypes" not in imported  # macOS-only code (control/peercred.py) loads it late
