"""Writes man/zarchctl.1 and man/zarchd.1 from the same text as --help.

    python scripts/manpages.py          # rewrite the pages
    python scripts/manpages.py --check  # exit 1 if a committed page is out of date

Our own small generator (no library): it walks the click command tree Typer builds, takes each
command's help and each option's help record exactly as `-h` prints them, and the examples and
exit statuses from zarchd/cli/helptext.py. tests/test_manpages.py keeps the committed pages up
to date. No date in the page: the output depends on the code only.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import typer
from typer import _click as click
from typer.core import TyperGroup
from typer.main import get_command

from zarchd import __version__
from zarchd.cli import globalopts, helptext

ROOT = Path(__file__).resolve().parents[1]
MAN = ROOT / "man"


def esc(text: str) -> str:
    """Roff-safe text: backslashes and hyphens escaped, no line starting a request."""
    out = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join("\\&" + line if line[:1] in (".", "'") else line for line in out.split("\n"))


def _walk(cmd: click.Command, path: list[str]) -> Iterator[tuple[list[str], click.Command]]:
    if isinstance(cmd, TyperGroup):
        for name in cmd.list_commands(click.Context(cmd)):
            sub = cmd.get_command(click.Context(cmd), name)
            if sub is not None and not sub.hidden:
                yield from _walk(sub, [*path, name])
    else:
        yield path, cmd


def _options(cmd: click.Command, ctx: click.Context) -> list[str]:
    out = []
    for param in cmd.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None or (param.name == "help" and cmd is not ctx.find_root().command):
            continue
        flags, text = record
        out += [".TP", f"\\fB{esc(flags)}\\fR", esc(" ".join(text.split()))]
    return out


def _usage(cmd: click.Command, ctx: click.Context) -> str:
    return " ".join(cmd.collect_usage_pieces(ctx))


def _help_sections(table: dict[str, helptext.Help], key: str) -> list[str]:
    entry = table.get(key)
    if entry is None:
        return []
    out = [".PP", "Examples:"]
    for line, what in entry.examples:
        out += [".TP", f"\\fB{esc(line)}\\fR", esc(what)]
    out += [".PP", "Exit status:"]
    for code, meaning in entry.exits:
        out += [".TP", f"\\fB{code}\\fR", esc(meaning)]
    return out


def render(app: typer.Typer, prog: str, table: dict[str, helptext.Help], summary: str) -> str:
    root = get_command(app)
    root_ctx = click.Context(root, info_name=prog, help_option_names=["-h", "--help"])
    lines = [
        f'.TH {prog.upper()} 1 "" "zarchd {__version__}" "User Commands"',
        ".SH NAME",
        f"{prog} \\- {esc(summary)}",
        ".SH SYNOPSIS",
        f"\\fB{prog}\\fR [\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...",
        ".SH DESCRIPTION",
        esc(" ".join((root.help or "").split())),
        ".SH OPTIONS",
        *_options(root, root_ctx),
    ]
    if prog == "zarchctl":
        flags = ", ".join(f.split(",")[0] for f, _ in globalopts.HELP_ROWS)
        lines += [".PP", esc(f"{flags} may stand before or after the command's name.")]
    lines.append(".SH COMMANDS")
    for path, cmd in _walk(root, []):
        parent = root_ctx
        for name in path[:-1]:
            parent = click.Context(root, info_name=name, parent=parent)
        ctx = click.Context(cmd, info_name=path[-1], parent=parent)
        lines += [
            ".SS " + esc(" ".join(path)),
            f"\\fB{esc(prog + ' ' + ' '.join(path))}\\fR {esc(_usage(cmd, ctx))}",
            ".PP",
            esc(" ".join((cmd.help or "").split())),
            *_options(cmd, ctx),
            *_help_sections(table, " ".join(path)),
        ]
    lines += [
        ".SH EXIT STATUS",
        f"0 {helptext.OK}; 1 {esc(helptext.FAILED)}; 2 {esc(helptext.USAGE)}"
        + ("; 3 " + esc(helptext.NOT_RUNNING) if prog == "zarchctl" else "")
        + ". Each command above lists its own.",
        ".SH SEE ALSO",
        "\\fBzarchd\\fR(1)" if prog == "zarchctl" else "\\fBzarchctl\\fR(1)",
    ]
    return "\n".join(lines) + "\n"


def pages() -> dict[Path, str]:
    from zarchd.cli import zarchctl, zarchd

    return {
        MAN / "zarchctl.1": render(
            zarchctl.app, "zarchctl", helptext.ZARCHCTL, "control zarchd, the registry's guardian"
        ),
        MAN / "zarchd.1": render(
            zarchd.app,
            "zarchd",
            helptext.ZARCHD,
            "back up, verify and migrate the 7zarch-go registry",
        ),
    }


def main(argv: list[str]) -> int:
    stale = []
    for path, text in pages().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if "--check" in argv:
            stale.append(path)
            continue
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    for path in stale:
        print(f"{path.relative_to(ROOT)} is out of date: run python scripts/manpages.py")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
