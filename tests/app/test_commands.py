"""The command table is the one description of a command: every other layer agrees with it."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from zarchd.app.commands import COMMANDS, Command
from zarchd.app.operations import Operations
from zarchd.cli import render
from zarchd.cli.zarchctl import app
from zarchd.control.protocol import BAD_PARAMS, METHODS, validate_request
from zarchd.core.errors import ProtocolError
from zarchd.daemon.daemon import Daemon

# Options every Typer command has that are not the command's params.
CLIENT_OPTIONS = {"json", "config", "socket", "local", "yes"}
SAMPLE = {bool: True, str: "x", int: 3, type(None): None}


def _typer_commands() -> dict[str, Callable[..., Any]]:
    found = {}
    for info in app.registered_commands:
        assert info.callback is not None
        found[info.name or info.callback.__name__.replace("_", "-")] = info.callback
    for group in app.registered_groups:  # sub-commands: "remote list" and the like
        assert group.typer_instance is not None
        if group.name == "config":  # reads and writes config files in zarchctl: no protocol
            continue
        for info in group.typer_instance.registered_commands:
            assert info.callback is not None
            found[f"{group.name} {info.name}"] = info.callback
    return found


def _sample(entry: Command) -> dict[str, Any]:
    params = {}
    for key, spec in entry.params.items():
        first = spec.type[0] if isinstance(spec.type, tuple) else spec.type
        params[key] = SAMPLE[first]
    return params


def test_every_typer_command_is_in_the_table_and_back() -> None:
    assert set(_typer_commands()) == set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_typer_signature_matches_the_entry(name: str) -> None:
    entry = COMMANDS[name]
    signature = inspect.signature(_typer_commands()[name]).parameters
    assert set(signature) - CLIENT_OPTIONS == set(entry.params)
    assert ("local" in signature) == entry.local
    assert {"json", "config", "socket"} <= set(signature)


def _handlers(entry: Command) -> list[Callable[..., Any]]:
    owners: list[type] = [Daemon] if entry.runs_in == "daemon" else []
    if entry.runs_in == "operations" or entry.local:
        owners.append(Operations)
    return [getattr(owner, entry.handler) for owner in owners]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_handler_takes_the_entry_params(name: str) -> None:
    entry = COMMANDS[name]
    for handler in _handlers(entry):
        params = dict(inspect.signature(handler).parameters)
        params.pop("self")
        params.pop("progress", None)
        required = {k for k, p in params.items() if p.default is inspect.Parameter.empty}
        assert set(entry.params) <= set(params), handler
        assert required <= set(entry.params), handler


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_renderer_exists(name: str) -> None:
    fn = getattr(render, COMMANDS[name].renderer, None)
    assert callable(fn)
    assert render.renderer(name) is fn


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_protocol_accepts_exactly_the_entry_params(name: str) -> None:
    entry = COMMANDS[name]
    assert set(METHODS[name]) == set(entry.params)
    params = _sample(entry)
    assert validate_request({"id": 1, "method": name, "params": params}) == (1, name, params)
    with pytest.raises(ProtocolError) as extra:
        validate_request({"id": 1, "method": name, "params": {**params, "nope": True}})
    assert extra.value.code == BAD_PARAMS
    for key, spec in entry.params.items():
        if spec.required:
            without = {k: v for k, v in params.items() if k != key}
            with pytest.raises(ProtocolError) as missing:
                validate_request({"id": 1, "method": name, "params": without})
            assert missing.value.code == BAD_PARAMS


def test_the_protocol_knows_no_command_outside_the_table() -> None:
    assert set(METHODS) == set(COMMANDS)


def test_every_writing_command_takes_the_writer_lock_unless_it_leaves_the_registry() -> None:
    """Only restore --to (a copy elsewhere) and dry runs go without the lock: rollback's `to`
    is a migration id, and rollback --local must take the lock (regression, 2026-11-29)."""
    for name, entry in COMMANDS.items():
        if not entry.writes:
            continue
        params = _sample(entry)
        params.pop("dry_run", None)
        if name == "restore":
            assert entry.needs_writer_lock({**params, "to": None})
            assert not entry.needs_writer_lock({**params, "to": "/tmp/copy.db"})
        else:
            assert entry.needs_writer_lock(params), name
    assert COMMANDS["rollback"].needs_writer_lock({"to": "0004_query_system"})
