"""zarchctl in-process through typer's CliRunner; the handlers it changes are put back."""

from __future__ import annotations

import logging
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import FIXTURE_0005
from tests.inprocess import QUIET, iter_short_dir, write_config


@pytest.fixture(autouse=True)
def restore_process_state() -> Iterator[None]:
    """execute() sets SIGTERM to KeyboardInterrupt and configures logging, as a process would."""
    handler = signal.getsignal(signal.SIGTERM)
    handlers = logging.getLogger().handlers[:]
    level = logging.getLogger().level  # -v sets INFO
    yield
    signal.signal(signal.SIGTERM, handler)
    logging.getLogger().handlers[:] = handlers
    logging.getLogger().setLevel(level)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def root() -> Iterator[Path]:
    yield from iter_short_dir()


@pytest.fixture
def config(root: Path) -> Path:
    """A config for a copy of 7zarch-go's registry, its socket in a short directory."""
    registry = root / "reg" / "registry.db"
    registry.parent.mkdir()
    shutil.copyfile(FIXTURE_0005, registry)
    return write_config(root, registry, QUIET, socket=root / "ctl.sock")
