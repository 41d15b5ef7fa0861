"""Stage reports: start, updates that never go backwards and stay few, end."""

from __future__ import annotations

from typing import Any

import pytest

from zarchd.core.progress import UPDATES_PER_STAGE, Stage


def test_a_stage_reports_start_few_forward_updates_and_end() -> None:
    events: list[dict[str, Any]] = []
    with Stage(events.append, "hash", total=100_000, of="b.bak") as stage:
        for done in range(1, 100_001):
            stage.update(done)
            if done == 50_000:
                stage.update(10)  # a value that would go backwards is dropped
    assert [e["phase"] for e in events[:1] + events[-1:]] == ["start", "end"]
    assert all(e["stage"] == "hash" and e["of"] == "b.bak" for e in events)
    assert all(e["unit"] == "bytes" and e["total"] == 100_000 for e in events)
    dones = [e["done"] for e in events]
    assert dones == sorted(dones) and dones[0] == 0 and dones[-1] == 100_000
    assert len(events) <= UPDATES_PER_STAGE + 2  # the socket is not flooded


def test_the_real_size_at_the_end_becomes_the_total_and_a_failed_stage_does_not_end() -> None:
    events: list[dict[str, Any]] = []
    stage = Stage(events.append, "copy")
    stage.total = 1000  # measured after construction: still paces the updates
    with stage:
        stage.update(2000)  # more than estimated: held at the total until the end says more
        stage.end(1500)
        stage.end(9)  # once only
    assert [(e["phase"], e["done"], e["total"]) for e in events] == [
        ("start", 0, 1000),
        ("update", 1000, 1000),
        ("end", 1500, 1500),
    ]
    events.clear()
    with pytest.raises(OSError), Stage(events.append, "fsync"):
        raise OSError("disk gone")
    assert [e["phase"] for e in events] == ["start"]
