"""read_sidecar_at (listing's fast sidecar reader) keeps meta.read_sidecar's rules."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from zarchd.backups.meta import FORMAT, MAX_SIDECAR, read_sidecar
from zarchd.backups.sidecars import read_sidecar_at

NAME = "registry-20260314-120000-zarchd.bak"
GOOD = {"format": FORMAT, "name": NAME, "created_at": "2026-03-14T12:00:00Z"}


@pytest.fixture
def dir_fd(tmp_path: Path) -> Iterator[int]:
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    yield fd
    os.close(fd)


def _both(tmp_path: Path, dir_fd: int) -> tuple[object, object]:
    """The fast reader's answer, and the one meta.read_sidecar gives for the same file."""
    return read_sidecar_at(dir_fd, NAME)[0], read_sidecar(tmp_path / NAME)


def test_ours_with_the_mtime_of_the_file_read(tmp_path: Path, dir_fd: int) -> None:
    side = tmp_path / f"{NAME}.json"
    side.write_text(json.dumps(GOOD))
    meta, st = read_sidecar_at(dir_fd, NAME)
    assert meta == GOOD and st is not None and st.st_mtime_ns == side.stat().st_mtime_ns
    assert read_sidecar(tmp_path / NAME) == meta


@pytest.mark.parametrize(
    "plant",
    ["absent", "symlink", "fifo", "directory", "huge", "other name", "no time", "not json"],
)
def test_what_is_not_ours_is_none(tmp_path: Path, dir_fd: int, plant: str) -> None:
    side = tmp_path / f"{NAME}.json"
    real = tmp_path / "elsewhere.json"
    real.write_text(json.dumps(GOOD))
    if plant == "symlink":
        side.symlink_to(real)  # a planted link to a sound sidecar makes nothing ours
    elif plant == "fifo":
        os.mkfifo(side)  # never blocks the listing
    elif plant == "directory":
        side.mkdir()
    elif plant == "huge":
        side.write_text(json.dumps({**GOOD, "pad": "x" * MAX_SIDECAR}))
    elif plant == "other name":
        side.write_text(json.dumps({**GOOD, "name": "registry-20260314-120001-zarchd.bak"}))
    elif plant == "no time":
        side.write_text(json.dumps({**GOOD, "created_at": "2026-03-14 12:00:00"}))
    elif plant == "not json":
        side.write_bytes(b"\xff{")
    assert read_sidecar_at(dir_fd, NAME) == (None, None)
    assert _both(tmp_path, dir_fd) == (None, None)
