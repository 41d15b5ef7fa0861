"""zarchd: the daemon binary. `run` in the foreground; `service` renders and installs units."""

from __future__ import annotations

import logging
import os
import signal
import sys
import traceback

# Until the daemon installs its own handler, a SIGHUP (systemd reload) must not kill it.
signal.signal(signal.SIGHUP, signal.SIG_IGN)

from pathlib import Path
from typing import Annotated

import typer

from zarchd import __version__
from zarchd.core.errors import ZarchError

app = typer.Typer(
    name="zarchd",
    help="The daemon that keeps the 7zarch-go registry backed up, verified and migrated.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: the same text as the man page
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"zarchd {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """zarchd run starts the daemon; zarchctl talks to it."""


@app.command()
def run(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="Config file (default: $ZARCH_CONFIG, else the user config dir)."
        ),
    ] = None,
) -> None:
    """Run the daemon in the foreground (what systemd and launchd start); logs go to stderr."""
    from zarchd.core import logsetup
    from zarchd.core.config import load_config
    from zarchd.core.textsafe import escape_controls
    from zarchd.daemon.daemon import (
        Daemon,  # the daemon's imports are not needed for --version / service
    )

    code = 1
    try:
        cfg = load_config(config)
        logsetup.setup(cfg.log.level)  # the process's logging: the daemon itself leaves it be
        code = Daemon(cfg, config_path=config).run()
    except ZarchError as exc:
        print(f"zarchd: {escape_controls(exc.message)}", file=sys.stderr)  # a log: one line
        code = exc.exit_code
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"zarchd: {escape_controls(f'{exc.strerror or exc}{where}')}", file=sys.stderr)
    except KeyboardInterrupt:
        code = 0
    except Exception:  # a bug, not a user's doing: the log must show where
        traceback.print_exc()
    finally:
        # The daemon's handlers are gone (restored when run() returned): a second SIGTERM or
        # Ctrl-C now must not kill us or raise here and skip the hard exit below.
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        # Exit without joining worker threads (control pools, scheduler): abandoned work, such
        # as a request queued on the write lock, would otherwise hold the exit forever.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


from zarchd.cli.service_cmd import app as service_app

app.add_typer(service_app, name="service", help="Render, install or remove the service unit.")


def _add_epilogs() -> None:
    """Examples and exit statuses under each command's help (cli/helptext.py)."""
    from zarchd.cli.helptext import ZARCHD, epilog

    for prefix, typer_app in (("", app), ("service ", service_app)):
        typer_app.rich_markup_mode = None
        for info in typer_app.registered_commands:
            assert info.callback is not None
            name = prefix + (info.name or info.callback.__name__.replace("_", "-"))
            info.epilog = info.epilog or epilog(ZARCHD, name)


_add_epilogs()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
