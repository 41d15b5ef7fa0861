"""Pure rendering: a ServiceSpec becomes systemd unit text or a launchd property list."""

from __future__ import annotations

import plistlib
import re
from importlib import resources
from pathlib import Path

from zarchd.service.spec import ServiceSpec

LABEL = "com.zarchd.zarchd"
MARKER = "# Managed by zarchd"
LAUNCHD_PATH = ("/usr/local/bin", "/opt/homebrew/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin")
_PLACEHOLDER = re.compile(r"@([A-Z_]+)@")
_NEEDS_QUOTES = re.compile(r"[\s\"'\\;]")

# Hardening that works through mount/user namespaces; `sandbox=False` leaves it out for
# machines without unprivileged user namespaces (user units there fail with 226/NAMESPACE).
_SANDBOX = (
    "ProtectSystem=strict",
    "ProtectHome=read-only",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectKernelLogs=yes",
    "ProtectControlGroups=yes",
    "ProtectHostname=yes",
)


def render(spec: ServiceSpec) -> str:
    """The unit for spec.platform: systemd unit text or launchd plist XML."""
    return render_launchd(spec) if spec.platform == "macos" else render_systemd(spec)


def render_systemd(spec: ServiceSpec) -> str:
    values: dict[str, str | list[str]] = {
        "EXEC_START": " ".join(_word(spec, arg, exec_line=True) for arg in spec.argv),
        "ENVIRONMENT": [f"Environment={_word(spec, f'{k}={v}')}" for k, v in spec.environment],
        "WATCHDOG": f"{spec.watchdog_sec}s",
        "USER": _escape_specifiers(spec.run_as),
        "GROUP": [f"Group={_escape_specifiers(spec.group)}"] if spec.group else [],
        "SANDBOX": _sandbox_lines(spec),
        # rclone reaches remotes over IP; without remotes the daemon keeps to its Unix socket.
        "ADDRESS_FAMILIES": "AF_UNIX AF_INET AF_INET6" if spec.network else "AF_UNIX",
    }
    name = "zarchd.service.in" if spec.scope == "user" else "zarchd-system.service.in"
    template = resources.files("zarchd").joinpath("units", name).read_text(encoding="utf-8")
    return _fill(template, values)


def render_launchd(spec: ServiceSpec) -> str:
    log_dir = spec.log_dir or Path("/tmp")
    log = str(log_dir / "zarchd.log")
    path_dirs = [str(Path(spec.command[0]).parent), *LAUNCHD_PATH]
    environment = {"PATH": ":".join(dict.fromkeys(path_dirs)), **dict(spec.environment)}
    plist = {
        "Label": LABEL,
        "ProgramArguments": spec.argv,
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},  # restart after a crash, not after `zarchctl stop`
        "ThrottleInterval": 10,
        "ExitTimeOut": 20,  # SIGTERM, then SIGKILL after this many seconds
        "ProcessType": "Background",
        "StandardOutPath": log,
        "StandardErrorPath": log,
        "EnvironmentVariables": environment,
    }
    return plistlib.dumps(plist, sort_keys=False).decode("utf-8")


def _sandbox_lines(spec: ServiceSpec) -> list[str]:
    if not spec.sandbox:
        return ["# Namespace-based sandboxing left out (zarchd service install --no-sandbox)."]
    # "-": a directory missing at start is skipped, so the daemon starts and reports it.
    paths = " ".join(_word(spec, f"-{_path(spec, p)}", escaped=True) for p in spec.writable)
    lines = list(_SANDBOX)
    if paths:
        lines.append(f"ReadWritePaths={paths}")
    readable = " ".join(_word(spec, f"-{_path(spec, p)}", escaped=True) for p in spec.readable)
    if readable:  # rclone's config: read, never written (ProtectHome would hide it otherwise)
        lines.append(f"ReadOnlyPaths={readable}")
    return lines


def _fill(template: str, values: dict[str, str | list[str]]) -> str:
    """Replace @NAME@ placeholders; a list value replaces its whole line (zero or more lines)."""
    out: list[str] = []
    for line in template.splitlines():
        whole = _PLACEHOLDER.fullmatch(line)
        if whole and isinstance(values[whole.group(1)], list):
            out.extend(values[whole.group(1)])
            continue
        out.append(_PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), line))
    return "\n".join(out) + "\n"


def _escape_specifiers(text: str) -> str:
    return text.replace("%", "%%")


def _path(spec: ServiceSpec, path: Path) -> str:
    """A path in unit syntax: specifiers escaped, under spec.home written as %h."""
    if spec.home is not None and path.is_relative_to(spec.home):
        rest = path.relative_to(spec.home).as_posix()
        return "%h" if rest == "." else f"%h/{_escape_specifiers(rest)}"
    return _escape_specifiers(str(path))


def _word(spec: ServiceSpec, text: str, *, exec_line: bool = False, escaped: bool = False) -> str:
    """One word of a setting: %-specifiers escaped, `$` too on command lines, quoted if needed."""
    if not escaped:
        text = (
            _path(spec, Path(text))
            if exec_line and text.startswith("/")
            else (_escape_specifiers(text))
        )
    if exec_line:
        text = text.replace("$", "$$")
    if _NEEDS_QUOTES.search(text) or not text:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text
