"""Hook commands ([notify] on_failure / on_recovery / on_success): an argv list run without a
shell, the event in ZARCH_* environment variables, bounded in time; failure is logged only."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence

log = logging.getLogger(__name__)

HOOK_TIMEOUT_S = 60.0
# What a hook prints is logged, bounded: a chatty hook must not flood the daemon's log.
OUTPUT_LIMIT = 2000


def run_hook(
    argv: Sequence[str], event: Mapping[str, str], *, timeout: float = HOOK_TIMEOUT_S
) -> bool:
    """Run `argv` with `event` added to the environment; True when it exited 0 in time."""
    name = f"{event.get('ZARCH_EVENT', 'event')} hook {argv[0]}"
    try:
        proc = subprocess.Popen(
            list(argv),
            env={**os.environ, **event},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a timeout ends its children too
        )
    except OSError as exc:
        log.error("%s could not start: %s", name, exc.strerror or exc)
        return False
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        log.error("%s did not finish within %gs and was killed", name, timeout)
        return False
    text = out.decode("utf-8", "replace").strip()[:OUTPUT_LIMIT]
    if proc.returncode != 0:
        log.error("%s failed (exit %d)%s", name, proc.returncode, f": {text}" if text else "")
        return False
    log.info("%s ran%s", name, f": {text}" if text else "")
    return True
