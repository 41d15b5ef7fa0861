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
        def wait(_limit: float | None) -> bool:  # inside the first step, before its COMMIT
            seen.append(_committed(registry))
            return True

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
        def wait(_limit: float | None) -> bool:
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
        def wait(_limit: float | None) -> bool:
            waited.append(True)
            if backup_fails:  # a damaged registry fails both: the backup's error says more
                raise IntegrityFailure("registry is damaged, no backup taken")
            return True

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


def test_a_backup_still_being_checked_never_keeps_writers_out(tmp_path: Path) -> None:
    """The first step holds the write lock at its COMMIT only briefly (HOLD_S) for a backup
    still being checked: then it is rolled back, the backup waited for without the lock (a
    writer gets in meanwhile), and the step run again (review 2, finding 1)."""
    import sqlite3

    from zarchd.migrations.transaction import HOLD_S

    registry = make_baseline_registry(tmp_path / "registry.db", rows=3)
    calls: list[float | None] = []
    writer_got_in: list[bool] = []

    def backup_first(_pending: list) -> object:
        def wait(limit: float | None) -> bool:
            calls.append(limit)
            if limit is not None:
                return False  # the check is still running
            app = sqlite3.connect(registry, timeout=0.1)  # unlocked now: 7zarch-go writes
            app.execute(
                "INSERT INTO archives (name, path, size, created) "
                "VALUES ('during.7z', '/d', 1, '2024-01-01 00:00:00')"
            )
            app.commit()
            app.close()
            writer_got_in.append(True)
            return True

        return wait

    result = migrate(
        registry, load_catalog(None), timeout=30, app_version="t", before_apply=backup_first
    )
    assert calls == [HOLD_S, None] and writer_got_in == [True]
    assert result.schema_version == "0005_search_index" and len(recorded(registry)) == 5
    conn = sqlite3.connect(registry)
    # the row written while the step was rolled back got its uid from the step run again
    assert conn.execute(
        "SELECT uid IS NOT NULL FROM archives WHERE name = 'during.7z'"
    ).fetchone() == (1,)
    conn.close()
