"""The last error has a life cycle: resolved by a later success; refusals are not errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.conftest import make_ops
from tests.backups.conftest import corrupt, make_registry
from tests.inprocess import FixedClock
from zarchd.app.operations import Operations
from zarchd.app.status import build_status
from zarchd.core.errors import IntegrityFailure, NotFound, UsageError


@pytest.fixture
def damageable(tmp_path: Path, clock: FixedClock) -> Operations:
    """Operations on a registry large enough that corrupt() hits a b-tree page."""
    registry = make_registry(tmp_path / "reg" / "registry.db", rows=3000)
    return make_ops(tmp_path, clock, registry=registry)


def test_a_later_success_of_the_job_resolves_its_error(damageable: Operations) -> None:
    ops = damageable
    ops.backup()
    saved = ops.registry.read_bytes()
    corrupt(ops.registry)
    with pytest.raises(IntegrityFailure):
        ops.backup()
    report = build_status(ops)
    assert report["last_error"] and report["last_error"]["job"] == "backup"
    ops.registry.write_bytes(saved)
    ops.check()
    ops.backup()
    report = build_status(ops)
    assert report["last_error"] is None
    resolved = report.get("last_resolved_error")
    assert resolved and resolved["job"] == "backup" and resolved["resolved_at"]
    last = ops.state.get("history")[-1]
    assert last["job"] == "backup" and last["ok"] and last["resolved"]["job"] == "backup"


def test_a_success_of_another_job_leaves_the_error(damageable: Operations) -> None:
    ops = damageable
    corrupt(ops.registry)
    with pytest.raises(IntegrityFailure):
        ops.backup()
    ops.prune()
    assert (build_status(ops)["last_error"] or {}).get("job") == "backup"


def test_a_refused_request_is_not_the_daemons_error(ops: Operations) -> None:
    with pytest.raises(UsageError):  # the registry is sound: nothing to recover
        ops.recover()
    with pytest.raises(NotFound):
        ops.restore("registry-20260101-000000.bak")
    assert build_status(ops)["last_error"] is None
    history = ops.state.get("history")
    assert [h["job"] for h in history] == ["recover", "restore"]
    assert all(h.get("refused") and "error" not in h for h in history)


def test_a_successful_recover_resolves_the_failed_check(damageable: Operations) -> None:
    ops = damageable
    ops.backup()
    corrupt(ops.registry)
    assert ops.check()["ok"] is False
    assert (build_status(ops)["last_error"] or {}).get("job") == "check"
    ops.recover()
    report = build_status(ops)
    assert report["last_error"] is None
    assert (report.get("last_resolved_error") or {}).get("job") == "check"
