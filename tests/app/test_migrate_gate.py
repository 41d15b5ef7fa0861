"""migrate through the operations: the pre-migration backup checked beside the first step."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.conftest import make_ops
from tests.backups.conftest import corrupt
from tests.conftest import make_baseline_registry
from tests.inprocess import FixedClock
from zarchd.core.errors import IntegrityFailure

from ..migrations.conftest import dump


def test_the_backup_job_is_recorded_before_the_migration_and_named(
    tmp_path: Path, clock: FixedClock
) -> None:
    registry = make_baseline_registry(tmp_path / "reg" / "registry.db", rows=50)
    ops = make_ops(tmp_path, clock, registry=registry)
    done = ops.migrate()
    jobs = [(j["job"], j["ok"]) for j in ops.state.get("history")][-2:]
    assert jobs == [("backup", True), ("migrate", True)]
    (backup,) = ops.backups()["backups"]
    assert done["backup"] == backup["name"]
    assert ops.state.get("last_backup")["name"] == backup["name"]


def test_a_registry_whose_copy_fails_its_check_is_not_migrated(
    tmp_path: Path, clock: FixedClock
) -> None:
    registry = make_baseline_registry(tmp_path / "reg" / "registry.db", rows=2000)
    corrupt(registry)
    before = dump_or_none(registry)
    ops = make_ops(tmp_path, clock, registry=registry)
    with pytest.raises(IntegrityFailure) as info:
        ops.migrate()
    assert "no backup taken" in info.value.message
    assert ops.backups()["backups"] == []
    assert dump_or_none(registry) == before  # the first step was rolled back
    failed = [j for j in ops.state.get("history") if not j["ok"]]
    assert [j["job"] for j in failed] == ["backup", "migrate"]


def dump_or_none(path: Path) -> object:
    """The file's bytes: a damaged registry may not dump."""
    try:
        return dump(path)
    except Exception:
        return path.read_bytes()
