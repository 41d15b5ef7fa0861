"""zarchctl's entry point: the commands a monitor runs often start without Typer.

Importing Typer (and through it click, rich, the completion code) costs more than a whole
`status` round trip to the daemon. `status`, `health` and `ping` with nothing but the options
below are parsed here and handed to the same runner; anything else (help, a typo, any other
command) goes to the Typer app in cli/zarchctl.py, which gives the same answer, only later.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zarchd.app.commands import COMMANDS
from zarchd.cli import globalopts

FAST_COMMANDS = ("status", "health", "ping")
_VALUED = ("--config", "--socket")


def parse_fast(args: Sequence[str]) -> tuple[str, dict[str, Any]] | None:
    """(command, execute's keywords) when the fast path can run `args` as Typer would; else None.

    `args` has the global flags taken out already."""
    if not args or args[0] not in FAST_COMMANDS:
        return None
    name = args[0]
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
        else:
            return None
    return name, kwargs


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    flags, rest = globalopts.split(args)
    fast = parse_fast(rest)
    if fast is not None:
        from zarchd.cli.runner import execute

        globalopts.set_current(flags)
        name, kwargs = fast
        execute(name, {}, **kwargs)
        return
    from zarchd.cli.zarchctl import app  # the full parser (it takes the global flags out again)

    app(args=args, prog_name="zarchctl")


if __name__ == "__main__":
    main()
