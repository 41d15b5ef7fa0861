"""zarchctl's entry point: the commands a monitor runs often start without Typer.

Importing Typer (and through it click, rich, the completion code) costs more than a whole
`status` round trip to the daemon, and Typer's coercion of a path option imports pydantic: ~0.1 s
of a `zarchctl backups` of 10,000 backups (issue 16). `status`, `health`, `ping`, `backups` and
`prune` with nothing but the options below are parsed here and handed to the same runner;
anything else (help, a typo, any other command) goes to the Typer app in cli/zarchctl.py, which
gives the same answer, only later.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zarchd.app.commands import COMMANDS
from zarchd.cli import globalopts

FAST_COMMANDS = ("status", "health", "ping", "backups", "prune")
_VALUED = ("--config", "--socket")
# A command's own flags the fast path knows (as in cli/zarchctl.py): flag -> its parameter.
_FLAGS: dict[str, dict[str, str]] = {"prune": {"--dry-run": "dry_run"}}


def parse_fast(args: Sequence[str]) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """(command, its parameters, execute's keywords) when the fast path can run `args` as Typer
    would; else None.

    `args` has the global flags taken out already."""
    if not args or args[0] not in FAST_COMMANDS:
        return None
    name = args[0]
    flags = _FLAGS.get(name, {})
    params: dict[str, Any] = {param: False for param in flags.values()}
    kwargs: dict[str, Any] = {"json_out": False, "config_path": None, "socket": None}
    kwargs["local"] = False
    rest = list(args[1:])
    while rest:
        arg = rest.pop(0)
        option, eq, value = arg.partition("=")
        if option in _VALUED:
            if not eq:
                if not rest:
                    return None  # Typer says what is missing
                value = rest.pop(0)
            if not value:
                return None
            kwargs["config_path" if option == "--config" else "socket"] = Path(value)
        elif arg == "--local" and COMMANDS[name].local:
            kwargs["local"] = True
        elif arg == "--json":
            kwargs["json_out"] = True
        elif arg in flags:
            params[flags[arg]] = True
        else:
            return None
    return name, params, kwargs


def few_collections() -> None:
    """Let the cyclic garbage collector run rarely in this short-lived process.

    Listing 10,000 backups makes some 200,000 objects that live until zarchctl exits; with the
    default thresholds the collector went over them again and again: a seventh of a whole
    `zarchctl prune --dry-run` (issue 16). What is imported by now is frozen (never scanned),
    and the young generation is collected every 200,000 allocations instead of 700 (at 50,000,
    one collection still went over the listing's ~60,000 new containers: 7 ms of a 280 ms
    `prune --dry-run`). Memory stays bounded: cycles are still collected, and zarchctl makes
    few."""
    gc.freeze()
    gc.set_threshold(200_000, 20, 20)


def main(argv: Sequence[str] | None = None) -> None:
    try:
        finished = _main(argv)
        if finished and argv is None:  # the process's own command line: nothing runs after us
            _exit_now()
    except BrokenPipeError:  # `zarchctl backups | head`: the reader left; not an error of ours
        _reader_gone()


def _exit_now() -> None:
    """End the process once a read-only fast-path command has succeeded, without the teardown.

    Listing 10,000 backups leaves some 200,000 objects that a normal exit frees one by one:
    10-20 ms for nothing (issue 16). What must happen still does: the output is flushed here
    (a reader gone is the BrokenPipeError main() handles), and the atexit handlers run
    (logging's flush, a coverage measurement's save). Every file such a command opened is
    closed by then; the sidecar index is written by an atomic replace inside the command."""
    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()
    os._exit(0)


def _reader_gone() -> None:
    """Exit quietly, as a program killed by SIGPIPE does (status 141): no traceback, and no
    "Exception ignored" when Python flushes the dead pipe at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    sys.exit(128 + 13)


def _main(argv: Sequence[str] | None) -> bool:
    """Run the command; True when it was a read-only one on the fast path and succeeded."""
    args = list(sys.argv[1:] if argv is None else argv)
    flags, rest = globalopts.split(args)
    fast = parse_fast(rest)
    if fast is not None:
        from zarchd.cli.runner import execute

        few_collections()
        globalopts.set_current(flags)
        name, params, kwargs = fast
        execute(name, params, **kwargs)  # SystemExit unless it succeeded
        return not COMMANDS[name].needs_writer_lock(params)
    from zarchd.cli.zarchctl import app  # the full parser (it takes the global flags out again)

    app(args=args, prog_name="zarchctl")
    return False


if __name__ == "__main__":
    main()
