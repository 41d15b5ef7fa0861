"""Fixtures for the daemon run in a thread of this process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.inprocess import FixedClock, iter_short_dir


@pytest.fixture
def root() -> Iterator[Path]:
    yield from iter_short_dir()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()
