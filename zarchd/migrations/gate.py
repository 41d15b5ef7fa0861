"""The pre-migration backup's gate: its check may still run while the first step works, but no
step commits before it has passed.

`before_apply` may return a function that waits for the backup (its check and publication) and
raises when it failed. The runner calls it before the first COMMIT, inside that step's
transaction: a backup that fails its check rolls the step back, and nothing was changed. It is
called once; on the way out of a run that never got that far the runner still waits for it (no
backup is left half-made behind a returning migrate). A backup that failed is the error then,
even when a step failed too: a damaged registry fails both, and the backup's error says what
to do ("run `zarchctl recover`"); the step's error stays attached as its context.
"""

from __future__ import annotations

from collections.abc import Callable

from zarchd.core.progress import Progress, Stage

Wait = Callable[[], None]


class BackupGate:
    def __init__(self, wait: Wait | None) -> None:
        self._wait = wait

    @property
    def open(self) -> bool:
        """True once the backup has passed (or there was nothing to wait for)."""
        return self._wait is None

    def pass_through(self, progress: Progress) -> None:
        """Wait for the backup; raises what it raised. Reported as the backup's check stage."""
        wait, self._wait = self._wait, None
        if wait is not None:
            with Stage(progress, "check"):
                wait()

    def settle(self) -> None:
        """Wait for a backup nobody passed through (the run stopped before its first COMMIT);
        raises what it raised."""
        wait, self._wait = self._wait, None
        if wait is not None:
            wait()
