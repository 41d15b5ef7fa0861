"""`zarchd service print|install|uninstall`: a thin Typer sub-app over zarchd.service.

Mounted by the `zarchd` app; also runs alone: `python -m zarchd.cli.service_cmd`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from zarchd import service
from zarchd.core.config import load_config
from zarchd.core.errors import ZarchError
from zarchd.service.spec import DEFAULT_RUN_AS, ServiceSpec

app = typer.Typer(
    name="service",
    help="Render, install or remove the zarchd service (systemd on Linux, launchd on macOS).",
    no_args_is_help=True,
    add_completion=False,  # the top-level `zarchd` app offers completion
    pretty_exceptions_enable=False,
)

T = TypeVar("T")
UserScope = Annotated[
    bool,
    typer.Option(
        "--user/--system",
        help="A service of your user (default) or a system-wide one (Linux, root).",
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Config file the service runs with (default: $ZARCH_CONFIG, else the user "
        "config dir).",
    ),
]
RunAs = Annotated[
    str, typer.Option("--run-as", help="System service: the dedicated user it runs as.")
]
Group = Annotated[
    str | None,
    typer.Option("--group", help="System service: its group (default: the user's own group)."),
]
NoSandbox = Annotated[
    bool,
    typer.Option(
        "--no-sandbox",
        help="Leave out the hardening that needs user namespaces (for machines where "
        "the service fails with status=226/NAMESPACE).",
    ),
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Show what would be written and run; change nothing.")
]
Force = Annotated[bool, typer.Option("--force", help="Replace an existing unit that differs.")]
PlatformOpt = Annotated[
    str | None,
    typer.Option("--platform", hidden=True, help="linux or macos (default: this machine)."),
]
RootOpt = Annotated[
    Path | None,
    typer.Option(
        "--root",
        hidden=True,
        envvar="ZARCH_SERVICE_ROOT",
        help="A directory standing in for / when writing units (tests, staging).",
    ),
]


def _guard(work: Callable[[], T]) -> T:
    """The only place service errors become exit codes: a message on stderr, never a traceback."""
    try:
        return work()
    except ZarchError as exc:
        print(f"zarchd: {exc.message}", file=sys.stderr)
        raise typer.Exit(exc.exit_code) from None


def _spec(
    user: bool,
    config: Path | None,
    platform: str | None,
    run_as: str,
    group: str | None,
    no_sandbox: bool,
) -> ServiceSpec:
    cfg = load_config(config)
    return service.spec_from_config(
        cfg,
        platform=service.current_platform(platform),
        scope="user" if user else "system",
        command=service.find_command(),
        run_as=run_as,
        group=group,
        sandbox=not no_sandbox,
    )


@app.command("print")
def print_unit(
    user: UserScope = True,
    config: ConfigOpt = None,
    run_as: RunAs = DEFAULT_RUN_AS,
    group: Group = None,
    no_sandbox: NoSandbox = False,
    platform: PlatformOpt = None,
) -> None:
    """Print the unit (systemd) or property list (launchd) zarchd would install."""
    spec = _guard(lambda: _spec(user, config, platform, run_as, group, no_sandbox))
    typer.echo(service.render(spec), nl=False)


@app.command()
def install(
    user: UserScope = True,
    dry_run: DryRun = False,
    force: Force = False,
    config: ConfigOpt = None,
    run_as: RunAs = DEFAULT_RUN_AS,
    group: Group = None,
    no_sandbox: NoSandbox = False,
    platform: PlatformOpt = None,
    root: RootOpt = None,
) -> None:
    """Write the unit and enable + start it (systemctl / launchctl, when present)."""
    _guard(
        lambda: service.install(
            _spec(user, config, platform, run_as, group, no_sandbox),
            root=root,
            force=force,
            dry_run=dry_run,
            out=typer.echo,
        )
    )


@app.command()
def uninstall(
    user: UserScope = True,
    dry_run: DryRun = False,
    platform: PlatformOpt = None,
    root: RootOpt = None,
) -> None:
    """Stop and disable the service and remove the unit zarchd wrote (logs and backups stay)."""
    _guard(
        lambda: service.uninstall(
            service.current_platform(platform),
            "user" if user else "system",
            root=root,
            dry_run=dry_run,
            out=typer.echo,
        )
    )


if __name__ == "__main__":
    app(prog_name="zarchd service")
