"""resume_swap on the exact on-disk states a crash during recover's swap leaves (issue 9, 2)."""

from __future__ import annotations

import os
from pathlib import Path

from zarchd.backups.recover import aside_name, set_aside
from zarchd.backups.swap import intent_path, resume_swap, write_intent

from .conftest import FixedClock, make_registry, max_id


def test_prepared_copy_gone_puts_the_set_aside_registry_back(
    tmp_path: Path, clock: FixedClock
) -> None:
    reg = make_registry(tmp_path / "registry.db", 40)
    aside = aside_name(reg, clock)
    write_intent(reg, {"prepared": ".zarchd-restore-registry-abcdefgh.tmp", "aside": aside.name})
    set_aside(reg, clock, to=aside)  # killed here; the prepared copy was lost too
    message = resume_swap(reg)
    assert message and "put back" in message
    assert max_id(reg) == 40 and not intent_path(reg).exists()


def test_killed_before_anything_moved_leaves_the_registry(
    tmp_path: Path, clock: FixedClock
) -> None:
    reg = make_registry(tmp_path / "registry.db", 40)
    write_intent(reg, {"prepared": "x.tmp", "aside": aside_name(reg, clock).name})
    assert "left in place" in (resume_swap(reg) or "")
    assert max_id(reg) == 40 and not intent_path(reg).exists()


def test_a_planted_intent_symlink_is_ignored(tmp_path: Path, clock: FixedClock) -> None:
    reg = make_registry(tmp_path / "registry.db", 40)
    target = tmp_path / "elsewhere.json"
    target.write_text('{"prepared": "x.tmp", "aside": "registry.db"}')
    os.symlink(target, intent_path(reg))
    assert resume_swap(reg) is None
    assert max_id(reg) == 40 and target.exists()
