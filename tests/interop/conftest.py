"""The real 7zarch-go binary for the interop tests: `$ZARCH_7ZARCH_GO`, else
`../shared/tools/7zarch-go/7zarch-go` relative to the repository root. Tests skip, saying so, only
where it is absent. Each call runs it with its own HOME, as its README demands."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT.parent / "shared" / "tools" / "7zarch-go" / "7zarch-go"
ID_LINE = re.compile(r"^([0-9A-HJKMNP-TV-Z]{12})\s+(\S+)", re.M)


def binary() -> Path | None:
    path = Path(os.environ.get("ZARCH_7ZARCH_GO") or DEFAULT)
    return path if path.is_file() and os.access(path, os.X_OK) else None


@dataclass
class SevenZarch:
    """One 7zarch-go user: its HOME and the registry it keeps there."""

    exe: Path
    home: Path

    @property
    def registry(self) -> Path:
        return self.home / ".7zarch-go" / "registry.db"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {"HOME": str(self.home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        if "TZ" in os.environ:  # the same local time as zarchd's, for backup names
            env["TZ"] = os.environ["TZ"]
        res = subprocess.run(
            [str(self.exe), *args], capture_output=True, text=True, env=env, timeout=60
        )
        if check and res.returncode != 0:
            raise AssertionError(
                f"7zarch-go {' '.join(args)} -> {res.returncode}\n"
                f"stdout: {res.stdout}\nstderr: {res.stderr}"
            )
        return res

    def list_ids(self, *args: str) -> dict[str, str]:
        """ID (12 characters, as `list` prints it) -> archive name."""
        return {m[1]: m[2] for m in ID_LINE.finditer(self.run("list", *args).stdout)}


@pytest.fixture
def go7z(tmp_path: Path) -> SevenZarch:
    exe = binary()
    if exe is None:
        pytest.skip(f"the real 7zarch-go binary is absent (looked at $ZARCH_7ZARCH_GO, {DEFAULT})")
    home = tmp_path / "home"
    (home / ".7zarch-go").mkdir(parents=True)
    return SevenZarch(exe, home)


@pytest.fixture
def seven_z() -> str:
    """`7z` (Debian p7zip-full), which `7zarch-go create` runs."""
    found = shutil.which("7z")
    if found is None:
        pytest.skip("7z (Debian package p7zip-full) is absent; 7zarch-go create needs it")
    return found
