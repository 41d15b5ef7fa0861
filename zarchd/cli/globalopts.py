"""The options every zarchctl command takes, before or after the command's name.

`zarchctl --json status` and `zarchctl status --json` mean the same: the flags are taken out of
the argument list wherever they stand (up to a `--`) before the command's own options are parsed.
Typer-free: the start-up fast path (cli/ctl_entry.py) reads them too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# flag -> (field, help). The one description: the Typer callback, each command's epilog and the
# man page all print these.
FLAGS: dict[str, tuple[str, str]] = {
    "--json": ("json", "Machine-readable JSON on stdout (no progress)."),
    "-q": ("quiet", "Quiet: print errors only (no progress, no summary)."),
    "--quiet": ("quiet", "Same as -q."),
    "-v": ("verbose", "Verbose: log what zarchctl does on stderr."),
    "--verbose": ("verbose", "Same as -v."),
    "--no-progress": ("no_progress", "No progress display (the result is still printed)."),
}
# Listed once each in help: (flags, help).
HELP_ROWS: tuple[tuple[str, str], ...] = (
    ("--json", FLAGS["--json"][1]),
    ("-q, --quiet", FLAGS["-q"][1]),
    ("-v, --verbose", FLAGS["-v"][1]),
    ("--no-progress", FLAGS["--no-progress"][1]),
)


@dataclass(frozen=True)
class GlobalFlags:
    json: bool = False
    quiet: bool = False
    verbose: bool = False
    no_progress: bool = False

    @property
    def show_progress(self) -> bool:
        """Whether the runner shows progress: the name the progress view is handed."""
        return not (self.json or self.quiet or self.no_progress)


def split(args: Sequence[str]) -> tuple[GlobalFlags, list[str]]:
    """Take the global flags out of `args` (anywhere before a `--`); return them and the rest."""
    found: dict[str, bool] = {}
    rest: list[str] = []
    tail: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            tail = list(args[i:])
            break
        flag = FLAGS.get(arg)
        if flag is None:
            rest.append(arg)
        else:
            found[flag[0]] = True
    return GlobalFlags(**found), rest + tail


_current = GlobalFlags()


def current() -> GlobalFlags:
    """The flags of the command line being run (set by the parser of this process)."""
    return _current


def set_current(flags: GlobalFlags) -> None:
    global _current
    _current = flags
