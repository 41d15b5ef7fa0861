"""Application migration files and the dependency plan."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from zarchd.core.errors import PlanError
from zarchd.migrations import load_catalog, migrate

from .conftest import FIXTURE_IDS, sha256, write

TAGS = """-- name: Add tags to archives
-- depends: 0005_search_index
-- migrate:up
ALTER TABLE archives ADD COLUMN tags TEXT;
-- migrate:down
ALTER TABLE archives DROP COLUMN tags;
"""


def test_builtins_alone_in_order() -> None:
    catalog = load_catalog(None)
    assert [m.id for m in catalog] == FIXTURE_IDS
    assert [m.name for m in catalog] == [
        "Baseline schema",
        "Add uid/managed/status/last_seen and indexes",
        "Add deleted_at and original_path for trash support",
        "Add queries table for saved query support",
        "Add search_index table for full-text search support",
    ]
    assert all(m.builtin and m.up_sql.strip() for m in catalog)
    assert [m.has_down for m in catalog] == [False, True, True, True, True]
    assert len({m.checksum for m in catalog}) == 5


def test_file_format(app_dir: Path) -> None:
    path = write(app_dir, "0006_add_tags.sql", TAGS)
    mig = load_catalog(app_dir)[-1]
    assert (mig.id, mig.name, mig.depends, mig.source) == (
        "0006_add_tags",
        "Add tags to archives",
        ("0005_search_index",),
        str(path),
    )
    assert mig.up_sql == "ALTER TABLE archives ADD COLUMN tags TEXT;\n"
    assert mig.down_sql == "ALTER TABLE archives DROP COLUMN tags;\n"
    assert mig.has_down and len(mig.checksum) == 64


def test_defaults_name_from_slug_and_depends_on_last_builtin(app_dir: Path) -> None:
    write(app_dir, "0001_early.sql", "-- migrate:up\nCREATE TABLE early (x);\n")
    catalog = load_catalog(app_dir)
    mig = catalog[-1]
    assert (mig.id, mig.name, mig.depends, mig.has_down) == (
        "0001_early",
        "early",
        ("0005_search_index",),
        False,
    )
    assert [m.id for m in catalog][:5] == FIXTURE_IDS  # after the built-ins despite its number


def test_dag_order_beats_id_order_ties_by_id(app_dir: Path) -> None:
    write(app_dir, "0006_z_needs_a.sql", "-- depends: 0009_a\n-- migrate:up\nSELECT 1;\n")
    write(app_dir, "0009_a.sql", "-- migrate:up\nSELECT 1;\n")
    write(app_dir, "0007_b.sql", "-- migrate:up\nSELECT 1;\n")
    write(app_dir, "0008_c.sql", "-- depends: 0006_z_needs_a, 0007_b\n-- migrate:up\nSELECT 1;\n")
    ids = [m.id for m in load_catalog(app_dir)][5:]
    assert ids == ["0007_b", "0009_a", "0006_z_needs_a", "0008_c"]


def test_missing_dependency_stops_before_anything_runs(app_dir: Path, registry_0005: Path) -> None:
    before = sha256(registry_0005)
    write(app_dir, "0006_x.sql", "-- depends: 0099_nope\n-- migrate:up\nCREATE TABLE x (a);\n")
    with pytest.raises(PlanError) as err:
        migrate(registry_0005, load_catalog(app_dir), timeout=5, app_version="t")
    assert "0099_nope" in err.value.message and "0006_x.sql" in err.value.message
    assert sha256(registry_0005) == before


def test_cycle_names_its_members(app_dir: Path) -> None:
    write(app_dir, "0006_a.sql", "-- depends: 0007_b\n-- migrate:up\nSELECT 1;\n")
    write(app_dir, "0007_b.sql", "-- depends: 0006_a\n-- migrate:up\nSELECT 1;\n")
    write(app_dir, "0008_ok.sql", "-- migrate:up\nSELECT 1;\n")
    with pytest.raises(PlanError, match="cyclic") as err:
        load_catalog(app_dir)
    assert "0006_a" in err.value.message and "0007_b" in err.value.message
    assert "0008_ok" not in err.value.message


def test_duplicate_id_with_a_builtin(app_dir: Path) -> None:
    write(app_dir, "0002_identity_and_status.sql", "-- migrate:up\nSELECT 1;\n")
    with pytest.raises(PlanError, match="defined twice"):
        load_catalog(app_dir)


@pytest.mark.parametrize(
    "text, problem",
    [
        ("CREATE TABLE x (a);\n", "no '-- migrate:up'"),
        ("CREATE TABLE x (a);\n-- migrate:up\nSELECT 1;\n", "SQL before"),
        ("-- migrate:up\n-- nothing here\n", "has no SQL"),
        ("-- migrate:up\nSELECT 'open;\n", "incomplete"),
        ("-- migrate:up\nBEGIN;\nSELECT 1;\nCOMMIT;\n", "transaction control"),
        ("-- migrate:up\nSELECT 1;\n-- migrate:up\nSELECT 2;\n", "second"),
        ("-- migrate:down\nSELECT 1;\n-- migrate:up\nSELECT 2;\n", "must come before"),
        ("-- depends: not-an-id\n-- migrate:up\nSELECT 1;\n", "not a migration id"),
        ("-- depends: 0006_bad\n-- migrate:up\nSELECT 1;\n", "depends on itself"),
        # issue 9, defect 7: a direct edit of sqlite_master can leave an unreadable registry
        (
            "-- migrate:up\nPRAGMA writable_schema=ON;\nUPDATE sqlite_master SET sql = 'x';\n",
            "writable_schema",
        ),
        (
            "-- migrate:up\nSELECT 1;\n"
            '-- migrate:down\n/* c */ pragma main."WRITABLE_SCHEMA" = 1;\n',
            "writable_schema",
        ),
    ],
)
def test_malformed_file_is_a_plan_error_naming_it(app_dir: Path, text: str, problem: str) -> None:
    write(app_dir, "0006_bad.sql", text)
    with pytest.raises(PlanError, match=problem) as err:
        load_catalog(app_dir)
    assert "0006_bad.sql" in err.value.message


def test_triggers_are_allowed_despite_begin_end(app_dir: Path) -> None:
    write(
        app_dir,
        "0006_trg.sql",
        "-- migrate:up\nCREATE TRIGGER t AFTER INSERT ON archives "
        "BEGIN UPDATE archives SET status = 'present'; END;\n",
    )
    assert load_catalog(app_dir)[-1].id == "0006_trg"


def test_other_files_are_ignored_with_a_warning(
    app_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(app_dir, "README.md", "notes")
    write(app_dir, "6_short.sql", "-- migrate:up\nSELECT 1;\n")
    write(app_dir, ".hidden", "x")
    with caplog.at_level(logging.WARNING):
        catalog = load_catalog(app_dir)
    assert len(catalog) == 5
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "README.md" in warned and "6_short.sql" in warned and ".hidden" not in warned


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="does not exist"):
        load_catalog(tmp_path / "nope")


def test_a_migrations_dir_others_can_write_is_refused(app_dir: Path) -> None:
    """A migration runs against the registry: a directory another user could plant one in is
    refused before anything is read (issue 1's rule for planted files)."""
    write(app_dir, "0100_tags.sql", "-- migrate:up\nSELECT 1;\n")
    app_dir.chmod(0o777)
    try:
        with pytest.raises(PlanError, match=r"writable by other users.*chmod go-w"):
            load_catalog(app_dir)
        app_dir.chmod(0o1777)  # sticky too: one planted file would stop every migration
        with pytest.raises(PlanError, match="writable by other users"):
            load_catalog(app_dir)
        app_dir.chmod(0o755)
        assert [m.id for m in load_catalog(app_dir)][-1] == "0100_tags"
    finally:
        app_dir.chmod(0o755)


def test_a_migration_file_that_is_not_ours_is_refused(app_dir: Path) -> None:
    fifo = app_dir / "0100_fifo.sql"
    os.mkfifo(fifo)  # not a regular file: never read (it would block)
    with pytest.raises(PlanError, match=r"0100_fifo\.sql is not trusted: it is not a regular file"):
        load_catalog(app_dir)
    fifo.unlink()
    planted = write(app_dir, "0101_planted.sql", "-- migrate:up\nDROP TABLE archives;\n")
    if os.geteuid() == 0:  # only root can give a file away (CI runs as root)
        os.chown(planted, 65534, 65534)
        with pytest.raises(PlanError, match=r"0101_planted\.sql is not trusted: it is owned by"):
            load_catalog(app_dir)
    else:
        assert [m.id for m in load_catalog(app_dir)][-1] == "0101_planted"


def test_a_migration_file_others_can_write_is_refused(app_dir: Path) -> None:
    """Review R6: a file of ours that any user may rewrite is as good as planted."""
    path = write(app_dir, "0100_tags.sql", "-- migrate:up\nSELECT 1;\n")
    path.chmod(0o666)
    with pytest.raises(PlanError, match=r"0100_tags\.sql is not trusted: it is writable by other"):
        load_catalog(app_dir)
    path.chmod(0o644)
    assert [m.id for m in load_catalog(app_dir)][-1] == "0100_tags"
