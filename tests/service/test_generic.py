"""The reference units in systemd/ and launchd/ are exactly what `render` makes of their specs."""

from __future__ import annotations

import os
import plistlib
from pathlib import Path

import pytest

from zarchd.service.generic import generic_files

from .helpers import make_exe, verify

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(generic_files()))
def test_checked_in_unit_matches_render(name: str) -> None:
    path = REPO / name
    assert path.is_file(), f"{name} is missing: run `python -m zarchd.service.generic`"
    assert path.read_text(encoding="utf-8") == generic_files()[name], (
        f"{name} drifted from the templates: run `python -m zarchd.service.generic` and commit"
    )


def test_generic_user_unit_verifies_for_a_pipx_install(tmp_path: Path) -> None:
    """%h/.local/bin/zarchd resolves against $HOME: verify it where that file exists."""
    home = tmp_path / "home"
    exe = make_exe(home / ".local" / "bin" / "zarchd")
    unit = tmp_path / "zarchd.service"
    unit.write_text(generic_files()["systemd/zarchd.service"])
    done = verify(unit, user=True, env={**os.environ, "HOME": str(home)})
    assert done.returncode == 0 and done.stderr == "", done.stderr
    exe.unlink()  # and the check has teeth: without it verify fails
    assert verify(unit, user=True, env={**os.environ, "HOME": str(home)}).returncode != 0


def test_generic_system_unit_verifies(tmp_path: Path) -> None:
    exe = make_exe(tmp_path / "zarchd")
    unit = tmp_path / "zarchd.service"
    unit.write_text(
        generic_files()["systemd/zarchd-system.service"].replace("/usr/local/bin/zarchd", str(exe))
    )
    done = verify(unit, user=False)
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_generic_plist_parses() -> None:
    data = plistlib.loads((REPO / "launchd" / "com.zarchd.zarchd.plist").read_bytes())
    assert data["ProgramArguments"] == ["/usr/local/bin/zarchd", "run"]
