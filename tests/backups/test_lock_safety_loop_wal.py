"""Status and fingerprints polled in the daemon's process never tear backups nor fake damage:
the loop of tests/backups/lock_loop.py on a registry in wal mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.backups.lock_loop import BACKUPS_PER_MODE, assert_sound, run_loop


@pytest.mark.slow
def test_status_polling_never_tears_backups_or_fakes_damage_wal(
    tmp_path: Path, constant_sum_writer: Any
) -> None:
    assert_sound(run_loop(tmp_path, True, constant_sum_writer, BACKUPS_PER_MODE))
