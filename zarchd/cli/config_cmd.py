"""`zarchctl config validate|show|init`: the config without a daemon (core/configkeys.py)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from zarchd.cli import globalopts, helptext
from zarchd.core import configkeys
from zarchd.core.config import find_config_file, load_config
from zarchd.core.errors import EXIT_FAILED, EXIT_USAGE, ConfigError
from zarchd.core.fsutil import SAFE_FLAGS

app = typer.Typer(
    help="Check, show or write the config (no daemon needed).",
    no_args_is_help=True,
    rich_markup_mode=None,
)

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", help="Config file (default: $ZARCH_CONFIG, else the user config dir)."
    ),
]


def _epilog(name: str) -> str:
    return helptext.epilog(helptext.ZARCHCTL, f"config {name}", globalopts.HELP_ROWS)


def _problems(exc: ConfigError) -> None:
    if globalopts.current().json:
        print(json.dumps({"valid": False, "problems": exc.problems}, indent=2))
    print(f"zarchctl: {exc.message}", file=sys.stderr)
    raise SystemExit(EXIT_USAGE)


@app.command(epilog=_epilog("validate"))
def validate(config: ConfigOpt = None) -> None:
    """Check the config zarchd would read, listing every problem at once (exit 2 if any)."""
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        _problems(exc)
    where = str(cfg.source) if cfg.source else "no config file: the defaults"
    if globalopts.current().json:
        print(json.dumps({"valid": True, "file": str(cfg.source) if cfg.source else None}))
    elif not globalopts.current().quiet:
        print(f"ok: {where}")


@app.command(epilog=_epilog("show"))
def show(config: ConfigOpt = None) -> None:
    """Print the effective config, defaults filled in, and where each value came from."""
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        _problems(exc)
    origin = configkeys.sources(cfg, dict(os.environ))
    if globalopts.current().json:
        out: dict[str, dict[str, object]] = {}
        for sec, key in configkeys.known_keys():
            value = configkeys.value_of(cfg, sec, key)
            shown = json.loads(configkeys.toml_value(sec, key, value))
            out.setdefault(sec, {})[key] = {"value": shown, "source": origin[(sec, key)]}
        print(json.dumps(out, indent=2))
        return
    print(f"# effective config; file: {cfg.source or 'none (defaults)'}")
    section = ""
    for sec, key in configkeys.known_keys():
        if sec != section:
            section = sec
            print(f"\n[{sec}]")
        line = f"{key} = {configkeys.toml_value(sec, key, configkeys.value_of(cfg, sec, key))}"
        print(f"{line.ljust(40)}  # {origin[(sec, key)]}")


@app.command(epilog=_epilog("init"))
def init(config: ConfigOpt = None) -> None:
    """Write a commented config with every key at its default; never overwrites a file."""
    path, _ = find_config_file(config, os.environ)
    text = configkeys.template()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # O_EXCL: an existing file (or a symlink planted in its place) is refused, never written
        # through; 0600 as a ping URL may carry a token.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | SAFE_FLAGS, 0o600)
    except FileExistsError:
        print(f"zarchctl: {path} exists already; not overwritten", file=sys.stderr)
        raise SystemExit(EXIT_FAILED) from None
    except OSError as exc:
        print(f"zarchctl: cannot create {path}: {exc.strerror or exc}", file=sys.stderr)
        raise SystemExit(EXIT_FAILED) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        path.unlink(missing_ok=True)  # ours (O_EXCL): never leave half a config behind
        print(f"zarchctl: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        raise SystemExit(EXIT_FAILED) from None
    if not globalopts.current().quiet:
        print(f"wrote {path}; check it with: zarchctl config validate --config {path}")
