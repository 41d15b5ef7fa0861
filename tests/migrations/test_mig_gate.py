"""The pre-migration backup's gate: the backup's check may run beside the first step, but no
step commits before it has passed; a backup that fails leaves the registry as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_baseline_registry
from zarchd.core.errors import IntegrityFailure, MigrationError
from zarchd.migrations import load_catalog, migrate

from .conftest import dump, recorded, write


def _committed(path: Path) -> list[str]:
    """What another connection sees as applied (committed) right now."""
    return recorded(path) if "schema_migrations" in "".join(dump(path)) else []


def test_the_first_commit_waits_for_the_backup_and_the_rest_follow(tmp_path: Path) -> None:
    registry = make_baseline_registry(tmp_path / "registry.db", rows=3)
    seen: list[list[str]] = []

    def backup_first(_pending: list) -> object:
        def wait() -> None:  # called inside the first step, before its COMMIT
            seen.append(_committed(registry))

        return wait

    result = migrate(
        registry, load_catalog(None), timeout=30, app_version="t", before_apply=backup_first
    )

    assert seen == [[]]  # waited for once, and nothing was committed before it
    assert result.schema_version == "0005_search_index"
    assert len(recorded(registry)) == 5


def test_a_backup_that_fails_its_check_rolls_the_first_step_back(tmp_path: Path) -> None:
    registry = make_baseline_registry(tmp_path / "registry.db", rows=3)
    before = dump(registry)

    def backup_first(_pending: list) -> object:
        def wait() -> None:
            raise IntegrityFailure("registry is damaged, no backup taken (quick check: bad)")

        return wait

    with pytest.raises(IntegrityFailure) as caught:
        migrate(
            registry, load_catalog(None), timeout=30, app_version="t", before_apply=backup_first
        )

    assert "no backup taken" in caught.value.message
    assert "0001_baseline was rolled back, nothing was changed" in caught.value.message
    assert dump(registry) == before


def _broken_app_migration(tmp_path: Path) -> tuple[Path, Path]:
    registry = make_baseline_registry(tmp_path / "registry.db", rows=3)
    apps = tmp_path / "apps"
    apps.mkdir()
    migrate(registry, load_catalog(None), timeout=30, app_version="t")  # built-ins done
    broken = "-- migrate:up\nCREATE TABLE extra (a);\nINSERT INTO missing VALUES (1);\n"
    write(apps, "0100_broken.sql", broken)
    return registry, apps


@pytest.mark.parametrize("backup_fails", [False, True])
def test_a_step_failing_before_the_gate_still_waits_for_the_backup(
    tmp_path: Path, backup_fails: bool
) -> None:
    registry, apps = _broken_app_migration(tmp_path)
    waited: list[bool] = []

    def backup_first(_pending: list) -> object:
        def wait() -> None:
            waited.append(True)
            if backup_fails:  # a damaged registry fails both: the backup's error says more
                raise IntegrityFailure("registry is damaged, no backup taken")

        return wait

    expected = IntegrityFailure if backup_fails else MigrationError
    with pytest.raises(expected) as caught:
        migrate(
            registry, load_catalog(apps), timeout=30, app_version="t", before_apply=backup_first
        )

    step_error = caught.value.__context__ if backup_fails else caught.value
    assert isinstance(step_error, MigrationError)
    assert "no such table: missing" in step_error.message
    assert waited == [True]  # no backup left half-made behind the error
    assert "extra" not in "".join(dump(registry))
