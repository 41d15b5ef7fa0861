"""The pre-migration backup's gate: its check may still run while the first step works, but no
step commits before it has passed.

`before_apply` may return a function that waits for the backup (its check and publication) and
raises when it failed. The runner calls it before the first COMMIT, inside that step's
transaction: a backup that fails its check rolls the step back, and nothing was changed. That
transaction holds the registry's write lock, so it waits there only briefly (HOLD_S): a backup
still being checked then means the step is rolled back, the backup waited for without the lock,
and the step run again (7zarch-go is never kept out for the rest of a long check). It is
called once; on the way out of a run that never got that far the runner still waits for it (no
backup is left half-made behind a returning migrate). A backup that failed is the error then,
even when a step failed too: a damaged registry fails both, and the backup's error says what
to do ("run `zarchctl recover`"); the step's error stays attached as its context.
"""

from __future__ import annotations

from collections.abc import Callable

from zarchd.core.progress import Progress, Stage

# wait(limit): True once the backup passed (raising what it raised), False when it is still
# running after `limit` seconds (None: no limit).
Wait = Callable[[float | None], bool]


class BackupGate:
    def __init__(self, wait: Wait | None) -> None:
        self._wait = wait

    @property
    def open(self) -> bool:
        """True once the backup has passed (or there was nothing to wait for)."""
        return self._wait is None

    def pass_through(self, progress: Progress, limit: float | None = None) -> bool:
        """Wait for the backup (at most `limit` seconds); raises what it raised. False when it
        was still running then (the gate stays closed). Reported as the backup's check stage."""
        wait = self._wait
        if wait is None:
            return True
        try:
            with Stage(progress, "check"):
                ready = wait(limit)
        except BaseException:
            self._wait = None  # its error is raised once, here
            raise
        if ready:
            self._wait = None
        return ready

    def settle(self) -> None:
        """Wait for a backup nobody passed through (the run stopped before its first COMMIT);
        raises what it raised."""
        wait, self._wait = self._wait, None
        if wait is not None:
            wait(None)
