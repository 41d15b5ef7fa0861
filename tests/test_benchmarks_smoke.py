"""The benchmark harness at its smallest, so it cannot rot: real registries, real processes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmarks import daemon, migrate
from benchmarks.common import Row, isolated_env
from benchmarks.run import table


@pytest.mark.e2e  # runs whole zarchctl processes
@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="needs the sqlite3 CLI")
def test_smallest_migration_and_listing_fill_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZARCH_REGISTRY", str(tmp_path / "never-touched.db"))
    (tmp_path / "m").mkdir()
    (tmp_path / "l").mkdir()
    rows = migrate.run(tmp_path / "m", 200, 1) + daemon.many_backups(tmp_path / "l", 5, 1)
    assert not (tmp_path / "never-touched.db").exists()
    assert [r.failed for r in rows] == ["", "", ""]
    assert all(len(r.values) == 1 and len(r.base_values) == 1 for r in rows)
    text = table(rows)
    assert text.count("\n| ") == 3 and "<= 1.5x" in text and "<= 300 ms" in text


def test_isolated_env_drops_the_callers_zarch_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZARCH_SOCKET", "/somewhere/else.sock")
    env = isolated_env(tmp_path / "home")
    assert not [k for k in env if k.startswith("ZARCH_")]
    assert env["HOME"] == str(tmp_path / "home")
    assert env["XDG_RUNTIME_DIR"].startswith(str(tmp_path / "home"))


@pytest.mark.e2e  # runs python -X importtime processes
def test_import_rows_measure_the_status_path_and_the_typer_app() -> None:
    (row,) = daemon.import_rows(1)
    assert not row.failed and len(row.values) == 1 and len(row.base_values) == 1
    # Each figure is a real cumulative import time: more than nothing, less than a minute.
    assert 0 < row.values[0] < 60 and 0 < row.base_values[0] < 60


def test_a_row_that_judges_the_worst_too_fails_on_one_bad_repeat() -> None:
    """The writer's figure is about any writer: one bad backup of five fails it, though the
    medians alone would pass."""
    values, base = [0.02, 0.02, 0.03, 0.03, 0.11], [0.05, 0.05, 0.05, 0.06, 0.06]
    median_only = Row("w", values, "cp", base, max_ratio=1.2)
    assert median_only.met() == "yes"
    judged = Row("w", values, "cp", base, max_ratio=1.2, worst_too=True)
    assert judged.met() == "NO" and judged.worst_ratio() == pytest.approx(0.11 / 0.06)
    assert Row("w", values[:4], "cp", base, max_ratio=1.2, worst_too=True).met() == "yes"
