"""Carries one zarchctl command out, locally or through the daemon.

The only place errors become exit codes.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

from zarchd.app.commands import COMMANDS, PING_TIMEOUT_S, answer_timeout, failed
from zarchd.cli import globalopts, render, samereg
from zarchd.cli.progress_view import ProgressView
from zarchd.cli.records_text import Text
from zarchd.core.config import Config, ControlSection, load_config, socket_path
from zarchd.core.errors import (
    EXIT_FAILED,
    DaemonNotRunning,
    RegistryError,
    UsageError,
    ZarchError,
)
from zarchd.core.logsetup import SafeFormatter
from zarchd.core.textsafe import escape_controls


def load(config_path: Path | None, socket: Path | None) -> Config:
    cfg = load_config(config_path)
    if socket is not None:
        try:
            checked = socket_path(str(socket))
        except ValueError as exc:
            raise UsageError(f"--socket {socket}: expected {exc}") from None
        cfg = replace(cfg, control=ControlSection(socket=checked))
    return cfg


def run_local(
    cfg: Config, command: str, params: dict[str, Any], progress: ProgressView, text: bool = False
) -> Any:
    """The command's result, run in this process; with `text` (what a person reads will be
    printed) `backups` answers with its finished text instead (cli/records_text.py)."""
    # Imported here: the registry code costs ~100 ms that a socket round trip does not need.
    from zarchd.app import dispatch
    from zarchd.app.operations import Operations
    from zarchd.db.lock import WriterLock

    ops = Operations(cfg)
    entry = dispatch.command_entry(command)
    fetch = command == "restore" and bool(params.get("remote"))  # may be a new machine
    if fetch and not params.get("to"):
        # the registry's directory is made here, private (the lock file goes there); --to
        # leaves the registry alone and makes nothing of it
        cfg.registry_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    absent = None if entry.absent_ok or fetch else ops.absent_problem()
    if absent:  # before the lock: a mistyped path gets no directory, no lock file
        raise RegistryError(absent)
    if entry.needs_writer_lock(params):
        with WriterLock(cfg.registry_path, role="zarchctl --local"):
            ops.remove_leftovers()
            return dispatch.run_local(ops, command, params, progress)
    if text and command == "backups":
        from zarchd.cli.records_text import backups_text

        return backups_text(*ops.listed_backups(**params))
    if text and command == "prune" and params.get("dry_run"):
        from zarchd.app.prunesummary import freed, in_listing_order
        from zarchd.cli.records_text import prune_dry_run_text

        ordered, by_name = in_listing_order(*ops.prune_preview())
        return prune_dry_run_text(ordered, by_name, freed(ordered, by_name))
    return dispatch.run_local(ops, command, params, progress)


def run_remote(cfg: Config, command: str, params: dict[str, Any], progress: ProgressView) -> Any:
    from zarchd.control import client  # imported late: `--local` never needs the socket code

    try:
        # A stopped or hung daemon must not hang the client: the timeout is per line read.
        return client.call(
            cfg.socket_path, command, params, on_progress=progress, timeout=answer_timeout(command)
        )
    except DaemonNotRunning:
        if command == "restore" and params.get("remote"):
            # a new machine has no daemon yet: fetch and restore here, under the writer lock
            return run_local(cfg, command, params, progress)
        entry = COMMANDS.get(command)
        if entry is None or not entry.works_offline(params):
            raise
        # Read-only commands work without a daemon: zarchctl reads the files itself.
        note = f"not running (no daemon answers at {cfg.socket_path}; registry read locally)"
        if command != "status":  # said first: not in the middle of the progress lines
            print(f"zarchctl: zarchd is {note}", file=sys.stderr)
        result = run_local(cfg, command, params, progress)
        if command == "status":
            result["daemon"]["note"] = note
        return result


def local_status_note(cfg: Config) -> str:
    """`status --local` says whether a daemon runs after all, instead of "not running"."""
    from zarchd.control import client

    try:
        info = client.call(cfg.socket_path, "ping", {}, timeout=PING_TIMEOUT_S)
    except DaemonNotRunning:
        return f"not running (no daemon answers at {cfg.socket_path}; registry read locally)"
    except ZarchError as exc:
        return f"not asked (--local); its socket {cfg.socket_path}: {exc.message}"
    return f"not asked (--local); zarchd (pid {info.get('pid')}) answers at {cfg.socket_path}"


def execute(
    command: str,
    params: dict[str, Any],
    *,
    json_out: bool,
    config_path: Path | None,
    socket: Path | None,
    local: bool,
) -> None:
    """Run `command` and exit: 0 done, 1 failed, 2 bad usage/config, 3 daemon not running.

    Exits by SystemExit, never typer.Exit: the start-up fast path runs this without Typer."""
    flags = globalopts.current()
    json_out = json_out or flags.json
    show_progress = not json_out and flags.show_progress
    level = logging.INFO if flags.verbose else logging.WARNING
    logging.basicConfig(level=level, format="zarchctl: %(message)s")
    logging.getLogger().setLevel(level)  # also when handlers were set up before (in-process use)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(SafeFormatter("zarchctl: %(message)s"))
    # A KeyboardInterrupt raised while SQLite runs a progress handler is swallowed by the sqlite3
    # module, which only aborts the statement ("interrupted"): remember the signal so the error
    # it causes is still reported as an interruption, not as a deadline or a failure.
    signals: list[int] = []

    def interrupt(signum: int, frame: FrameType | None) -> None:
        signals.append(signum)
        raise KeyboardInterrupt

    # SIGTERM ends zarchctl like Ctrl-C: a running migration rolls back and says so. A SIGINT
    # ignored from the start (a background job of a script) stays ignored.
    signal.signal(signal.SIGTERM, interrupt)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, interrupt)
    progress = ProgressView(show=show_progress)
    progress.route_logging(logging.getLogger())  # log lines above the progress, not into it
    try:
        cfg = load(config_path, socket)
        logging.getLogger("zarchctl").info(  # -v: what this run acts on
            "%s: config %s; registry %s; %s",
            command,
            cfg.source or "none (defaults)",
            cfg.registry_path,
            "in this process (--local)" if local else f"daemon at {cfg.socket_path}",
        )
        if not local and command != "ping" and samereg.named_explicitly(config_path):
            samereg.check_same_registry(cfg)  # never act silently on the daemon's other registry
        if local:
            text = not json_out and not flags.quiet
            result = run_local(cfg, command, params, progress, text=text)
        else:
            result = run_remote(cfg, command, params, progress)
        if local and command == "status":
            result["daemon"]["note"] = local_status_note(cfg)
    except ZarchError as exc:
        progress.close()
        if signals:  # the error is the interruption's doing: say so, exit as for Ctrl-C
            exc = ZarchError(f"interrupted; {exc.message}")
            exc.code, exc.exit_code = "interrupted", 130
        _fail(exc, json_out)
    except OSError as exc:
        # A file-system failure no layer anticipated: still a sentence, never a traceback.
        progress.close()
        where = f" ({exc.filename})" if exc.filename else ""
        _fail(ZarchError(f"{exc.strerror or exc}{where}"), json_out)
    except KeyboardInterrupt:
        progress.close()
        print("zarchctl: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    progress.close()
    if json_out:
        print(json.dumps(result, indent=2, default=str))
    elif not flags.quiet:  # -q: the exit status (and errors on stderr) only
        print(result if isinstance(result, Text) else render.render(command, result))
    if failed(command, result):
        raise SystemExit(EXIT_FAILED)


def _fail(exc: ZarchError, json_out: bool) -> None:
    if json_out:
        print(json.dumps({"error": {"code": exc.code, "message": exc.message}}))
    # Our messages may span lines; any line after the first is indented, so a newline in a
    # path can neither pass for a line of its own nor (escaped) drive the terminal.
    message = escape_controls(exc.message, keep_newlines=True).replace("\n", "\n  ")
    print(f"zarchctl: {message}", file=sys.stderr)
    raise SystemExit(exc.exit_code)


def confirm(question: str, yes: bool) -> None:
    """Ask before destroying the current registry; without a terminal, demand --yes."""
    if yes:
        return
    if not sys.stdin.isatty():
        print(
            f"zarchctl: {question} Refusing without --yes (no terminal to ask on).", file=sys.stderr
        )
        raise SystemExit(2)
    import typer  # only restore and recover ask, and they come through Typer anyway

    if not typer.confirm(question, default=False, err=True):
        print("zarchctl: nothing changed", file=sys.stderr)
        raise SystemExit(1)
