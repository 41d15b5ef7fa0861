"""Operations on a real registry (7zarch-go's own, schema 0005) with a clock the test moves."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_0005
from tests.inprocess import FixedClock
from zarchd.app.operations import Operations
from zarchd.app.state import State
from zarchd.core.config import load_config


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


def make_ops(
    tmp_path: Path, clock: FixedClock, *, registry: Path | None = None, extra: str = ""
) -> Operations:
    if registry is None:
        registry = tmp_path / "reg" / "registry.db"
        registry.parent.mkdir(exist_ok=True)
        shutil.copyfile(FIXTURE_0005, registry)
    config = tmp_path / "zarchd.toml"
    config.write_text(
        f'[registry]\npath = "{registry}"\n[backup]\ndir = "{tmp_path / "bak"}"\n' + extra
    )
    cfg = load_config(config)
    return Operations(cfg, now=clock, state=State(tmp_path / "state"))


@pytest.fixture
def ops(tmp_path: Path, clock: FixedClock) -> Operations:
    return make_ops(tmp_path, clock)
