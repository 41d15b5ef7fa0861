"""Renderers for `health` and the integrity / resolved-error lines of `status`."""

from __future__ import annotations

from typing import Any

from tests.cli.test_render import _status
from zarchd.cli import render, timefmt


def test_health_lines() -> None:
    assert render.health({"healthy": True, "reasons": []}) == "healthy"
    text = render.health({"healthy": False, "reasons": ["registry damaged: x", "last job failed"]})
    assert text.splitlines() == ["degraded:", "  registry damaged: x", "  last job failed"]


def test_status_says_how_and_when_integrity_was_found() -> None:
    fresh: dict[str, Any] = _status(
        exists=True,
        integrity="ok",
        integrity_method="quick_check",
        integrity_checked_at="now (quick_check)",
    )
    assert "integrity ok (quick_check, now)" in render.status(fresh)  # type: ignore[arg-type]
    old = _status(
        exists=True,
        integrity="ok",
        integrity_method="integrity_check",
        integrity_checked_at="2020-01-01T00:00:00Z",
    )
    assert "integrity ok (integrity_check, " in render.status(old)  # type: ignore[arg-type]
    assert "d ago)" in render.status(old)  # type: ignore[arg-type]


def test_status_shows_a_resolved_error_apart_from_the_current_one() -> None:
    report: dict[str, Any] = dict(_status(exists=True, integrity="ok"))
    report["last_error"] = None
    report["last_resolved_error"] = {
        "at": "2026-03-14T10:00:00Z",
        "job": "backup",
        "message": "disk full",
        "resolved_at": "2026-03-14T11:00:00Z",
    }
    text = render.status(report)  # type: ignore[arg-type]
    assert "last error none" in text
    assert f"resolved   backup error of {timefmt.local_time('2026-03-14T10:00:00Z')}" in text
