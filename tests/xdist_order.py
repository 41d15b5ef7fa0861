"""The order `pytest -n 2 --dist loadfile` hands test files to its workers: the longest files
first, one per worker, so no worker is left running them alone at the end.

xdist queues files by their number of tests, most first, and gives a worker its next file once
it has two tests or fewer left: files of one or two long tests (the lock-safety loops, ~20 s
and ~12 s) came last and, both being short of tests, went to the same worker one after the
other while the other one stood idle (a 144 s run: 129 s of tests on one worker, 106 s on
the other).
"""

from __future__ import annotations

from typing import Any

from xdist.scheduler import LoadFileScheduling

# The longest files (seconds of tests, measured on 2 busy cores), alternating so the first two
# go to different workers; every other file follows in xdist's own order.
LONGEST_FIRST = (
    "tests/backups/test_lock_safety_loop.py",  # 20 s, one test
    "tests/backups/test_lock_safety_loop_wal.py",  # 12 s, one test
    "tests/e2e/test_daemon.py",  # 32 s
    "tests/e2e/test_user_errors.py",  # 18 s
    "tests/e2e/test_commands_via_daemon.py",  # 16 s
    "tests/e2e/test_cli_local.py",  # 11 s
)


class LongestFilesFirst(LoadFileScheduling):
    """xdist's file scheduling with LONGEST_FIRST moved to the front of its queue."""

    _reordered = False

    def _assign_work_unit(self, node: Any) -> None:
        if not self._reordered:  # the queue is complete at the first assignment
            self._reordered = True
            for scope in reversed(LONGEST_FIRST):
                if scope in self.workqueue:
                    self.workqueue.move_to_end(scope, last=False)
        super()._assign_work_unit(node)
