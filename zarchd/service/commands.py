"""Service-manager commands (systemctl / launchctl): which to run, whether we can, running them."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from zarchd.core.errors import ZarchError
from zarchd.service.locations import UNIT_NAME, under_root
from zarchd.service.render import LABEL

Out = Callable[[str], None]
# `enable --now` waits for READY=1, which may follow a start-up migration (TimeoutStartSec=15min).
COMMAND_TIMEOUT = 16 * 60.0
PROBE_TIMEOUT = 30.0


@dataclass(frozen=True)
class Manager:
    """The service manager of this machine for one platform and scope."""

    platform: str
    scope: str
    tool: str | None  # absolute path of systemctl / launchctl, None if we cannot use it
    unavailable: str = ""  # why `tool` is None, in words

    def base(self) -> list[str]:
        name = _tool_name(self.platform)  # as the user types it
        if self.platform == "linux" and self.scope == "user":
            return [name, "--user"]
        return [name]

    @property
    def domain(self) -> str:
        return f"gui/{os.getuid()}"

    @property
    def service_target(self) -> str:
        return f"{self.domain}/{LABEL}"


def _tool_name(platform: str) -> str:
    return "launchctl" if platform == "macos" else "systemctl"


def detect(
    platform: str,
    scope: str,
    root: Path | None = None,
    which: Callable[[str], str | None] = shutil.which,
) -> Manager:
    """Find systemctl/launchctl; systemd must also be running (sd_booted: /run/systemd/system)."""
    name = _tool_name(platform)
    tool = which(name)
    if tool is None:
        return Manager(platform, scope, None, f"`{name}` was not found on PATH")
    if platform == "linux" and not under_root(Path("/run/systemd/system"), root).is_dir():
        return Manager(
            platform,
            scope,
            None,
            "systemd is not running on this machine "
            "(no /run/systemd/system, as in most containers)",
        )
    return Manager(platform, scope, tool)


def install_commands(mgr: Manager, unit: Path, *, replaced: bool, loaded: bool) -> list[list[str]]:
    """Commands that make the written unit run now and at every start."""
    base = mgr.base()
    if mgr.platform == "macos":
        if loaded and not replaced:
            return []
        bootout = [[*base, "bootout", mgr.service_target]] if loaded else []
        return [
            *bootout,
            [*base, "enable", mgr.service_target],
            [*base, "bootstrap", mgr.domain, str(unit)],
        ]
    restart = [[*base, "restart", UNIT_NAME]] if replaced else []
    return [[*base, "daemon-reload"], [*base, "enable", "--now", UNIT_NAME], *restart]


def uninstall_commands(mgr: Manager, *, loaded: bool) -> tuple[list[list[str]], list[list[str]]]:
    """(commands before the file is removed, commands after)."""
    base = mgr.base()
    if mgr.platform == "macos":
        return ([[*base, "bootout", mgr.service_target]] if loaded else []), []
    return [[*base, "disable", "--now", UNIT_NAME]], [[*base, "daemon-reload"]]


def is_loaded(mgr: Manager) -> bool:
    """launchd: is the agent loaded? (`launchctl print` fails for an unknown service)."""
    if mgr.platform != "macos" or mgr.tool is None:
        return False
    try:
        done = subprocess.run(
            [*mgr.base(), "print", mgr.service_target],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def show(argv: list[str]) -> str:
    return shlex.join(argv)


def run(argv: list[str], out: Out) -> None:
    """Run one command, print it and its result; a failure raises ZarchError with its stderr."""
    out(f"$ {show(argv)}")
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise ZarchError(f"`{show(argv)}` did not finish within {COMMAND_TIMEOUT:g}s") from None
    except OSError as exc:
        raise ZarchError(f"cannot run `{show(argv)}`: {exc.strerror or exc}") from None
    text = "\n".join(s.strip() for s in (done.stdout, done.stderr) if s.strip())
    if done.returncode != 0:
        detail = f":\n{_indent(text)}" if text else " (no output)"
        raise ZarchError(f"`{show(argv)}` failed with exit status {done.returncode}{detail}")
    if "\n" in text:
        out("  ok")
        out(_indent(text))
    else:
        out(f"  ok: {text}" if text else "  ok")


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())
