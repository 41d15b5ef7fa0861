"""The application's version file: read as one short line, and only from a regular file."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from zarchd import __version__
from zarchd.core.appversion import app_version


def test_the_file_adds_its_line(tmp_path: Path) -> None:
    version = tmp_path / "VERSION"
    version.write_text("2.3.1\n")
    assert app_version(version) == f"{__version__}+2.3.1"
    assert app_version(None) == app_version(tmp_path / "missing") == __version__
    version.write_text("   \n")
    assert app_version(version) == __version__


def test_a_fifo_planted_as_the_version_file_does_not_block(tmp_path: Path) -> None:
    """Review R3: a FIFO there blocked every reader (the status refresh, the migrate job) until
    something wrote to it."""
    fifo = tmp_path / "VERSION"
    os.mkfifo(fifo)
    answer: list[str] = []
    reader = threading.Thread(target=lambda: answer.append(app_version(fifo)), daemon=True)
    reader.start()
    reader.join(5)
    if not answer:  # unblock the old code's reader so the test process can end
        with open(fifo, "w"):
            pass
    assert answer == [__version__]


def test_an_endless_file_is_read_no_further_than_a_line(tmp_path: Path) -> None:
    link = tmp_path / "VERSION"
    link.symlink_to("/dev/zero")  # a character device: not a version file
    assert app_version(link) == __version__
    big = tmp_path / "BIG"
    big.write_text("1" * 100_000)
    assert len(app_version(big)) < 5000
