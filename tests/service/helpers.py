"""Shared helpers for the service tests: systemd-analyze verify, fake executables and commands."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

INSTALL_HINT = (
    "systemd-analyze is missing: install it with `apt-get install -y systemd` "
    "(Debian/Ubuntu); .ci/run installs it"
)


def verify(
    unit: Path, *, user: bool, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `systemd-analyze [--user] verify` on a unit; fails the test if the tool is missing."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.fail(INSTALL_HINT)
    argv = [tool, *(["--user"] if user else []), "verify", "--man=no", str(unit)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)


def fake_tool(
    bin_dir: Path,
    name: str,
    log: Path,
    *,
    fail_on: str = "",
    exit_code: int = 1,
    print_code: int = 113,
) -> Path:
    """A stand-in systemctl/launchctl: records its arguments; fails for argument `fail_on`."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / name
    script.write_text(
        "#!/bin/sh\n"
        f'echo "{name} $*" >> "{log}"\n'
        f'if [ "$1" = print ]; then exit {print_code}; fi\n'
        + (
            f'case "$*" in *{fail_on}*) echo "Failed to {fail_on}: no bus" >&2; '
            f"exit {exit_code};; esac\n"
            if fail_on
            else ""
        )
        + "exit 0\n"
    )
    script.chmod(0o755)
    return script


def make_exe(path: Path) -> Path:
    """An executable stand-in for zarchd (an ExecStart that exists)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path
