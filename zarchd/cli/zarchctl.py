"""zarchctl: the client. Thin: parse, then hand to runner.execute.

The console script enters through cli/ctl_entry.py, which answers `status`, `health` and `ping`
without importing this module (Typer costs more than the whole round trip to the daemon).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from typer import _click as click
from typer.core import TyperGroup

from zarchd import __version__
from zarchd.cli import complete, globalopts, helptext
from zarchd.cli.restoreopts import restore_params
from zarchd.cli.runner import confirm, execute


class GlobalFlagsGroup(TyperGroup):
    """Takes --json, -q, -v and --no-progress out wherever they stand, before or after the
    command's name (globalopts.split), so each command need not declare them."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        flags, rest = globalopts.split(args)
        globalopts.set_current(flags)
        return super().parse_args(ctx, rest)


app = typer.Typer(
    name="zarchctl",
    help="Control zarchd, the daemon that keeps the 7zarch-go registry backed up and migrated.",
    cls=GlobalFlagsGroup,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: no `<bool>` metavars, the same text as the man page
    context_settings={"help_option_names": ["-h", "--help"]},
)

Json = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", help="Config file (default: $ZARCH_CONFIG, else the user config dir)."
    ),
]
SocketOpt = Annotated[
    Path | None,
    typer.Option("--socket", help="The daemon's control socket (default: from the config)."),
]
Local = Annotated[
    bool,
    typer.Option(
        "--local", help="Run in this process without a daemon, under the daemon's writer lock."
    ),
]


def _version(value: bool) -> None:
    if value:
        print(f"zarchctl {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
    # Declared for the help only: GlobalFlagsGroup has taken them out of the arguments already.
    json: Annotated[bool, typer.Option("--json", help=globalopts.FLAGS["--json"][1])] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help=globalopts.FLAGS["-q"][1])] = False,
    verbose: Annotated[
        bool, typer.Option("-v", "--verbose", help=globalopts.FLAGS["-v"][1])
    ] = False,
    no_progress: Annotated[
        bool, typer.Option("--no-progress", help=globalopts.FLAGS["--no-progress"][1])
    ] = False,
) -> None:
    """Every command takes --json, --config and --socket; registry commands also --local."""


@app.command()
def status(
    json: Json = False, config: ConfigOpt = None, socket: SocketOpt = None, local: Local = False
) -> None:
    """Daemon, registry, migrations, backups, schedule and last error (works without a daemon)."""
    execute("status", {}, json_out=json, config_path=config, socket=socket, local=local)


@app.command()
def health(
    json: Json = False, config: ConfigOpt = None, socket: SocketOpt = None, local: Local = False
) -> None:
    """Exit 0 healthy; 1 degraded (one line per reason) or cannot connect; 3 not running."""
    execute("health", {}, json_out=json, config_path=config, socket=socket, local=local)


@app.command()
def ping(json: Json = False, config: ConfigOpt = None, socket: SocketOpt = None) -> None:
    """Is the daemon alive? Exit 0 if it answers, 3 if it is not running."""
    execute("ping", {}, json_out=json, config_path=config, socket=socket, local=False)


@app.command()
def backup(
    json: Json = False, config: ConfigOpt = None, socket: SocketOpt = None, local: Local = False
) -> None:
    """Take a verified backup now (always taken, even if the registry is unchanged)."""
    execute("backup", {}, json_out=json, config_path=config, socket=socket, local=local)


@app.command("log")
def job_log(
    n: Annotated[int, typer.Option("-n", help="How many of the newest jobs to show.")] = 20,
    json: Json = False,
    config: ConfigOpt = None,
    socket: SocketOpt = None,
    local: Local = False,
) -> None:
    """Recent jobs: what ran, when, who asked, outcome, duration (migration timings too)."""
    execute("log", {"n": n}, json_out=json, config_path=config, socket=socket, local=local)


@app.command()
def backups(
    last: Annotated[
        int | None, typer.Option("--last", metavar="N", help="Only the newest N backups.")
    ] = None,
    json: Json = False,
    config: ConfigOpt = None,
    socket: SocketOpt = None,
    local: Local = False,
) -> None:
    """List backups, oldest first: name, time, size, verified, schema version."""
    execute(
        "backups", {"last": last}, json_out=json, config_path=config, socket=socket, local=local
    )


@app.command()
def prune(
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Say keep/delete and why for every backup; delete nothing."),
    ] = False,
    json: Json = False,
    config: ConfigOpt = None,
    socket: SocketOpt = None,
    local: Local = False,
) -> None:
    """Apply the retention policy to the backups zarchd made."""
    execute(
        "prune", {"dry_run": dry_run}, json_out=json, config_path=config, socket=socket, local=local
    )


@app.command()
def verify(
    name: Annotated[
        str | None,
        typer.Argument(
            help="A backup name from `zarchctl backups`; default: all of zarchd's backups.",
            autocompletion=complete.backup_names,
        ),
    ] = None,
    json: Json = False,
    config: ConfigOpt = None,
    socket: SocketOpt = None,
    local: Local = False,
) -> None:
    """Re-check backups (sha256 + SQLite integrity); exit 1 naming any bad one."""
    execute("verify", {"name": name}, json_out=json, config_path=config, socket=socket, local=local)


@app.command()
def restore(
    name: Annotated[
        str | None,
        typer.Argument(
            help="A backup name from `zarchctl backups` (never a path), or `latest`; with --from: "
            "a name from `zarchctl remote list`, or `latest`.",
            metavar="NAME|latest",
            show_default=False,
            autocompletion=complete.backup_names,
        ),
    ] = None,
    remote: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="REMOTE",
            help="Fetch the copy from this remote of the config (checked: sha256 and "
            "integrity); works without a daemon and without local backups.",
        ),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(
            "--host",
            metavar="H",
            help="With --from: another machine's copies (default: this host).",
        ),
    ] = None,
    to: Annotated[
        str | None,  # not Path: an empty --to (an unset variable) would become "."
        typer.Option(
            "--to",
            metavar="PATH",
            help="Write a verified copy of the backup at PATH (a file, or into a directory) "
            "instead of replacing the registry; needs no daemon and no lock.",
        ),
    ] = None,
    before: Annotated[
        str | None,
        typer.Option(
            "--before",
            metavar="TIME",
            help="The newest backup taken before TIME: ISO 8601 (local time without an "
            "offset) or how long ago (30m, 2h, 3d, 1w).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="With --to: replace an existing file at PATH.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json: Json = False,
    config: ConfigOpt = None,
    socket: SocketOpt = None,
    local: Local = False,
) -> None:
    """Replace the registry with backup NAME, `latest` or the newest --before TIME (after a safety backup), then migrate it; with --to PATH only write a verified copy there; with --from REMOTE, a copy fetched from a remote."""  # noqa: E501 (Typer lists a wrapped docstring wrapped)
    if host is not None and remote is None:
        raise typer.BadParameter("--host goes with --from REMOTE", param_hint="--host")
    if to is not None and not to.strip():
        raise typer.BadParameter("needs a path (it is empty)", param_hint="--to")
    if remote is not None:
        if name is None or before is not None or force:
            raise typer.BadParameter(
                "with --from: name a copy (or `latest`); --before and --force are for local "
                "backups",
                param_hint="--from",
            )
        params = {
            "name": name,
            "remote": remote,
            "host": host,
            "to": None if to is None else str(Path(to).expanduser().absolute()),
        }
    else:
        params = restore_params(name, to, before, force)
    if to is None:
        which = f"backup {name}" if name else f"the newest backup taken before {before}"
        where = f" from remote {remote}" if remote else ""
        confirm(f"Replace the registry with {which}{where}? A safety backup is taken first.", yes)
    execute("restore", params, json_out=json, config_path=config, socket=socket, local=local)


@app.command()
def recover(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json: Json = False,
    config: ConfigOpt = None,
    socket: SocketOpt = None,
    local: Local = False,
) -> None:
    """For a damaged registry: set it aside as <name>.corrupted-<time>, restore the newest good backup."""  # noqa: E501 (Typer lists a wrapped docstring wrapped)
    confirm("Set the registry aside and restore the newest backup that verifies?", yes)
    execute("recover", {}, json_out=json, config_path=config, socket=socket, local=local)


@app.command()
def migrate(
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print each pending migration and its SQL; write nothing."),
    ] = False,
    backup_only: Annotated[
        bool, typer.Option("--backup-only", help="Take the pre-migration backup only.")
    ] = False,
    json: Json = False,
    config: ConfigOpt = None,
    socket: SocketOpt = None,
    local: Local = False,
) -> None:
    """Apply pending migrations, a backup first (creates a missing registry with the full schema)."""  # noqa: E501 (Typer lists a wrapped docstring wrapped)
    execute(
        "migrate",
        {"dry_run": dry_run, "backup_only": backup_only},
        json_out=json,
        config_path=config,
        socket=socket,
        local=local,
    )


@app.command()
def rollback(
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="Migration id to go back to (it stays applied).",
            autocompletion=complete.migration_ids,
        ),
    ],
    json: Json = False,
    config: ConfigOpt = None,
    socket: SocketOpt = None,
    local: Local = False,
) -> None:
    """Run down-migrations back to ID, newest first, a backup first."""
    execute("rollback", {"to": to}, json_out=json, config_path=config, socket=socket, local=local)


@app.command()
def check(
    json: Json = False, config: ConfigOpt = None, socket: SocketOpt = None, local: Local = False
) -> None:
    """Integrity check and schema validation now; exit 1 if damaged or the schema drifted."""
    execute("check", {}, json_out=json, config_path=config, socket=socket, local=local)


@app.command()
def repair(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be re-applied; change nothing.")
    ] = False,
    json: Json = False,
    config: ConfigOpt = None,
    socket: SocketOpt = None,
    local: Local = False,
) -> None:
    """Re-apply the missing parts of recorded migrations (schema drift), a backup first."""
    execute(
        "repair",
        {"dry_run": dry_run},
        json_out=json,
        config_path=config,
        socket=socket,
        local=local,
    )


remote_app = typer.Typer(
    name="remote",
    help="Off-site copies on the remotes of the config (rclone); no daemon needed.",
    no_args_is_help=True,
)
app.add_typer(remote_app, name="remote")
RemoteArg = Annotated[
    str | None, typer.Argument(help="One remote of the config, by name (default: every remote).")
]
# Remote commands always run in zarchctl's process (they need only the config): --local is
# accepted for the command table's sake and changes nothing.
RemoteLocal = Annotated[bool, typer.Option("--local", hidden=True)]


def _remote_command(sub: str, doc: str) -> None:
    """`remote list` and `remote fleet`: the same options, run in zarchctl's own process."""

    def command(
        remote: RemoteArg = None,
        json: Json = False,
        config: ConfigOpt = None,
        socket: SocketOpt = None,
        local: RemoteLocal = False,
    ) -> None:
        params = {"remote": remote}
        execute(
            f"remote {sub}", params, json_out=json, config_path=config, socket=socket, local=True
        )

    command.__doc__ = doc
    remote_app.command(sub)(command)


_remote_command(
    "list",
    "This host's copies of the registry on each remote: name, size, created, complete/verified.",
)
_remote_command(
    "fleet",
    "Every host/registry on each remote with its newest copy and age; exit 1 if one is stale.",
)


def _daemon_command(name: str, doc: str) -> None:
    def command(json: Json = False, config: ConfigOpt = None, socket: SocketOpt = None) -> None:
        execute(name, {}, json_out=json, config_path=config, socket=socket, local=False)

    command.__doc__ = doc
    app.command(name=name)(command)


_daemon_command("pause", "Stop scheduled and change-triggered backups until `resume`.")
_daemon_command("resume", "Restart scheduled and change-triggered backups.")
_daemon_command("reload", "Re-read the config (same as SIGHUP); a bad config keeps the old one.")
_daemon_command("stop", "Stop the daemon gracefully.")


def _add_epilogs() -> None:
    """Examples, exit statuses and the global options under every command's help (helptext)."""
    for info in app.registered_commands:
        assert info.callback is not None
        name = info.name or info.callback.__name__.replace("_", "-")
        info.epilog = info.epilog or helptext.epilog(helptext.ZARCHCTL, name, globalopts.HELP_ROWS)
    for info in remote_app.registered_commands:
        full = f"remote {info.name}"
        info.epilog = info.epilog or helptext.epilog(helptext.ZARCHCTL, full, globalopts.HELP_ROWS)


_add_epilogs()

from zarchd.cli.config_cmd import app as config_app  # noqa: E402 (after the commands: help order)

app.add_typer(config_app, name="config", help="Check, show or write the config (no daemon needed).")


def main() -> None:
    from zarchd.cli.ctl_entry import main as entry

    entry()


if __name__ == "__main__":
    main()
