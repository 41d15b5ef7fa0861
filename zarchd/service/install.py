"""Install and uninstall: compare with what is there, write or remove the unit, tell the manager.

`dry_run` goes all the way down: it reports what would be written and run and changes nothing.
"""

from __future__ import annotations

import difflib
import grp
import plistlib
import pwd
import shutil
from collections.abc import Callable
from pathlib import Path

from zarchd.core.errors import ZarchError
from zarchd.core.fsutil import atomic_write_text
from zarchd.service import commands
from zarchd.service.commands import Manager, Out
from zarchd.service.locations import under_root, unit_path
from zarchd.service.render import LABEL, MARKER, render
from zarchd.service.spec import ServiceSpec

MAX_DIFF_LINES = 40
Which = Callable[[str], str | None]


def is_zarchd_unit(text: str, platform: str) -> bool:
    """Did zarchd write this file? systemd: the marker comment; launchd: our Label."""
    if platform == "linux":
        return any(line.startswith(MARKER) for line in text.splitlines())
    try:
        data = plistlib.loads(text.encode("utf-8"))
    except (plistlib.InvalidFileException, ValueError, TypeError):
        return False
    return isinstance(data, dict) and data.get("Label") == LABEL


def install(
    spec: ServiceSpec,
    *,
    root: Path | None = None,
    force: bool = False,
    dry_run: bool = False,
    out: Out = print,
    which: Which = shutil.which,
) -> str:
    """Write the unit and enable/start it. Returns 'new', 'same' or 'replaced'."""
    unit = under_root(unit_path(spec.platform, spec.scope), root)
    content = render(spec)
    existing = _read(unit)
    state = "new" if existing is None else "same" if existing == content else "replaced"
    if state == "replaced" and not force:
        raise ZarchError(_refusal(unit, existing or "", content, spec.platform))
    if dry_run:
        out("dry run: nothing is written or run")
    _check_account(spec, dry_run, out)
    mgr = commands.detect(spec.platform, spec.scope, root, which)
    loaded = (state != "new") if dry_run else commands.is_loaded(mgr)
    todo = commands.install_commands(mgr, unit, replaced=state == "replaced", loaded=loaded)
    dirs = [d for d in _dirs_to_create(spec, root) if not d.is_dir()]
    if dry_run:
        _report_dry_install(unit, content, state, dirs, mgr, todo, out)
        return state
    for directory in dirs:
        _mkdir(directory)
        out(f"created {directory}")
    if state == "same":
        out(f"already installed: {unit} is up to date")
    else:
        _write(unit, content, spec.scope)
        out(f"{'wrote' if state == 'new' else 'replaced'} {unit}")
    _run_all(mgr, todo, unit, out)
    if mgr.tool is not None:
        out(_status_hint(spec))
    return state


def uninstall(
    platform: str,
    scope: str,
    *,
    root: Path | None = None,
    dry_run: bool = False,
    out: Out = print,
    which: Which = shutil.which,
) -> bool:
    """Stop, disable and remove the unit zarchd wrote. Returns False when there was none."""
    unit = under_root(unit_path(platform, scope), root)
    existing = _read(unit)
    if existing is None:
        out(f"not installed: there is no {unit}")
        return False
    if not is_zarchd_unit(existing, platform):
        what = f"its Label is not {LABEL}" if platform == "macos" else f"no '{MARKER}' line"
        raise ZarchError(f"{unit} was not written by zarchd ({what}); leaving it alone")
    mgr = commands.detect(platform, scope, root, which)
    loaded = dry_run or commands.is_loaded(mgr)  # only launchd asks; systemd always disables
    before, after = commands.uninstall_commands(mgr, loaded=loaded)
    if dry_run:
        for argv in before:
            out(f"would run: {commands.show(argv)}")
        out(f"would remove {unit}")
        for argv in after:
            out(f"would run: {commands.show(argv)}")
        return True
    if mgr.tool is None:
        out(f"not stopping the service: {mgr.unavailable}")
    else:
        for argv in before:
            commands.run(argv, out)
    try:
        unit.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        hint = _sudo_hint(scope)
        raise ZarchError(f"cannot remove {unit}: {exc.strerror or exc}{hint}") from None
    out(f"removed {unit}")
    if mgr.tool is not None:
        for argv in after:
            commands.run(argv, out)
    return True


def _refusal(unit: Path, old: str, new: str, platform: str) -> str:
    diff = list(
        difflib.unified_diff(
            old.splitlines(),
            new.splitlines(),
            f"{unit} (installed)",
            f"{unit} (zarchd would write)",
            lineterm="",
            n=1,
        )
    )
    if len(diff) > MAX_DIFF_LINES:
        diff = [*diff[:MAX_DIFF_LINES], f"... ({len(diff) - MAX_DIFF_LINES} more diff lines)"]
    owner = "" if is_zarchd_unit(old, platform) else " (and was not written by zarchd)"
    return (
        f"{unit} already exists and differs from the unit zarchd would write{owner}:\n"
        + "\n".join(diff)
        + "\nRun again with --force to replace it."
    )


def _check_account(spec: ServiceSpec, dry_run: bool, out: Out) -> None:
    """A system unit's User=/Group= must exist, or systemd fails at start with a vague 217/USER."""
    if spec.scope != "system" or spec.platform != "linux":
        return
    problems = []
    try:
        pwd.getpwnam(spec.run_as)
    except KeyError:
        problems.append(
            f"the user {spec.run_as!r} does not exist: create it with `sudo useradd "
            f"--system --home-dir /var/lib/zarchd --shell /usr/sbin/nologin "
            f"{spec.run_as}`, or choose another with --run-as USER"
        )
    if spec.group:
        try:
            grp.getgrnam(spec.group)
        except KeyError:
            problems.append(f"the group {spec.group!r} does not exist")
    if problems and not dry_run:
        raise ZarchError("; ".join(problems))
    for problem in problems:
        out(f"warning: {problem}")
    for directory in spec.writable:
        if not directory.is_dir():
            out(f"note: {directory} does not exist yet: create it, writable by {spec.run_as}")


def _dirs_to_create(spec: ServiceSpec, root: Path | None) -> list[Path]:
    """User scope: the writable dirs must exist before start (the sandbox skips missing ones)."""
    if spec.scope != "user":
        return []
    wanted = list(spec.writable) + ([spec.log_dir] if spec.log_dir else [])
    return [under_root(d, root) for d in wanted]


def _report_dry_install(
    unit: Path,
    content: str,
    state: str,
    dirs: list[Path],
    mgr: Manager,
    todo: list[list[str]],
    out: Out,
) -> None:
    for directory in dirs:
        out(f"would create {directory}")
    if state == "same":
        out(f"already installed: {unit} is up to date")
    else:
        out(f"would {'write' if state == 'new' else 'replace'} {unit}:")
        out(content.rstrip("\n"))
    if mgr.tool is None:
        out(f"would not run the service manager: {mgr.unavailable}; you would run:")
    for argv in todo:
        out(f"would run: {commands.show(argv)}")


def _run_all(mgr: Manager, todo: list[list[str]], unit: Path, out: Out) -> None:
    if mgr.tool is None:
        if todo:
            out(f"not starting the service: {mgr.unavailable}. Once it is available, run:")
            for argv in todo:
                out(f"  {commands.show(argv)}")
        return
    for i, argv in enumerate(todo):
        try:
            commands.run(argv, out)
        except ZarchError as exc:
            rest = "\n".join(f"  {commands.show(a)}" for a in todo[i:])
            raise ZarchError(
                f"{exc.message}\nThe unit is in place at {unit}; after fixing the "
                f"problem, run:\n{rest}"
            ) from None


def _status_hint(spec: ServiceSpec) -> str:
    if spec.platform == "macos":
        return (
            f"see it with: zarchctl status; launchctl print gui/$(id -u)/{LABEL}; "
            f"log: {spec.log_dir}/zarchd.log"
        )
    flag = "--user " if spec.scope == "user" else ""
    return (
        f"see it with: zarchctl status; systemctl {flag}status zarchd; journalctl {flag}-u zarchd"
    )


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ZarchError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None


def _write(unit: Path, content: str, scope: str) -> None:
    try:
        atomic_write_text(unit, content, mode=0o644)  # units are world-readable by convention
    except OSError as exc:
        raise ZarchError(f"cannot write {unit}: {exc.strerror or exc}{_sudo_hint(scope)}") from None


def _mkdir(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ZarchError(f"cannot create {directory}: {exc.strerror or exc}") from None


def _sudo_hint(scope: str) -> str:
    return " (a system unit needs root: run it with sudo)" if scope == "system" else ""
