"""Examples and exit statuses of every command, once: --help and the man pages print this text.

Typer-free and cheap: scripts/manpages.py and the Typer apps read the same table.
"""

from __future__ import annotations

from dataclasses import dataclass

OK = "success"
FAILED = "the command failed (the message says why)"
USAGE = "bad usage or a bad config (every problem is listed)"
NOT_RUNNING = "the daemon is not running (no daemon answers at the socket)"
INTERRUPTED = "interrupted (Ctrl-C or SIGTERM); a running migration rolled back"


@dataclass(frozen=True)
class Help:
    examples: tuple[tuple[str, str], ...]  # (command line, what it does)
    exits: tuple[tuple[int, str], ...]  # (status, meaning)


def _exits(
    *extra: tuple[int, str], ok: str = OK, failed: str = FAILED, daemon: bool = True
) -> tuple[tuple[int, str], ...]:
    rows = [(0, ok), (1, failed), (2, USAGE)]
    if daemon:
        rows.append((3, NOT_RUNNING))
    return tuple(rows) + extra


_STD = _exits()
_LONG = _exits((130, INTERRUPTED))

ZARCHCTL: dict[str, Help] = {
    "status": Help(
        (
            ("zarchctl status", "what the daemon, the registry and the backups are doing"),
            ("zarchctl status --json", "the same as JSON (docs/STATUS.md names every field)"),
        ),
        _exits(failed="the config or the registry could not be read", daemon=False),
    ),
    "health": Help(
        (
            ("zarchctl health", "one line per reason when not healthy"),
            ("zarchctl -q health || alert", "for a monitoring script: the exit status only"),
        ),
        _exits(ok="healthy", failed="degraded (one line per reason), or cannot connect"),
    ),
    "ping": Help(
        (("zarchctl ping", "is the daemon alive?"),),
        _exits(ok="the daemon answered", failed="the daemon did not answer in time"),
    ),
    "backup": Help(
        (
            ("zarchctl backup", "take a verified backup now"),
            ("zarchctl backup --local", "the same without a daemon"),
        ),
        _LONG,
    ),
    "log": Help(
        (("zarchctl log -n 5", "the five newest jobs"),),
        _STD,
    ),
    "backups": Help(
        (
            ("zarchctl backups", "every backup: name, time, size, verified, schema"),
            ("zarchctl backups --json", "the same as JSON"),
        ),
        _STD,
    ),
    "prune": Help(
        (
            ("zarchctl prune --dry-run", "keep/delete and why for every backup"),
            ("zarchctl prune", "delete what the retention policy lets go"),
        ),
        _LONG,
    ),
    "verify": Help(
        (
            ("zarchctl verify", "re-check every backup zarchd made"),
            ("zarchctl verify NAME", "re-check one backup (names: zarchctl backups)"),
        ),
        _exits((130, INTERRUPTED), failed="a backup is bad (named), or the check failed"),
    ),
    "restore": Help(
        (
            ("zarchctl restore NAME", "replace the registry with backup NAME (asks first)"),
            ("zarchctl restore NAME --yes", "the same without asking (scripts)"),
        ),
        _exits((130, INTERRUPTED), failed="not restored; or declined at the prompt"),
    ),
    "recover": Help(
        (("zarchctl recover --yes", "set a damaged registry aside, restore the newest good"),),
        _exits((130, INTERRUPTED), failed="not recovered; or declined at the prompt"),
    ),
    "migrate": Help(
        (
            ("zarchctl migrate --dry-run", "each pending migration and its SQL"),
            ("zarchctl migrate", "apply them, a backup first"),
        ),
        _LONG,
    ),
    "rollback": Help(
        (
            (
                "zarchctl rollback --to 0004_query_system",
                "undo the migrations after it, newest first",
            ),
        ),
        _LONG,
    ),
    "check": Help(
        (("zarchctl check", "integrity check and schema validation now"),),
        _exits((130, INTERRUPTED), failed="the registry is damaged or its schema drifted"),
    ),
    "repair": Help(
        (
            ("zarchctl repair --dry-run", "what would be re-applied"),
            ("zarchctl repair", "re-apply it, a backup first"),
        ),
        _LONG,
    ),
    "pause": Help((("zarchctl pause", "no scheduled backups until resume"),), _STD),
    "resume": Help((("zarchctl resume", "scheduled backups again"),), _STD),
    "reload": Help((("zarchctl reload", "re-read the config, like SIGHUP"),), _STD),
    "stop": Help((("zarchctl stop", "stop the daemon gracefully"),), _STD),
    "config validate": Help(
        (
            ("zarchctl config validate", "check the config zarchd would read"),
            ("zarchctl config validate --config my.toml", "check another file"),
        ),
        _exits(ok="the config is valid", failed="the file cannot be read", daemon=False),
    ),
    "config show": Help(
        (("zarchctl config show", "every key's effective value and where it came from"),),
        _exits(daemon=False),
    ),
    "config init": Help(
        (
            ("zarchctl config init", "write a commented config with every key"),
            ("zarchctl config init --config ./zarchd.toml", "write it there instead"),
        ),
        _exits(
            failed="the file exists already (never overwritten) or cannot be written", daemon=False
        ),
    ),
}

ZARCHD: dict[str, Help] = {
    "run": Help(
        (
            ("zarchd run", "run in the foreground (what systemd and launchd start)"),
            ("zarchd run --config /etc/zarchd.toml", "with another config"),
        ),
        ((0, "stopped cleanly (SIGTERM, Ctrl-C, zarchctl stop)"), (1, FAILED), (2, USAGE)),
    ),
    "service print": Help(
        (("zarchd service print", "the unit or agent it would install"),),
        _exits(daemon=False),
    ),
    "service install": Help(
        (("zarchd service install", "install and start the user service"),),
        _exits(daemon=False),
    ),
    "service uninstall": Help(
        (("zarchd service uninstall", "stop and remove it"),),
        _exits(daemon=False),
    ),
}


def epilog(table: dict[str, Help], name: str, global_rows: tuple[tuple[str, str], ...] = ()) -> str:
    """The help's closing sections in click's plain format (\\b keeps a block unwrapped)."""
    entry = table.get(name)
    if entry is None:
        return ""
    width = max(len(line) for line, _ in entry.examples)
    parts = ["\b\nEXAMPLES:"]
    parts += [f"  {line.ljust(width)}  # {what}" for line, what in entry.examples]
    parts.append("\n\b\nEXIT STATUS:")
    parts += [f"  {code:<3} {meaning}" for code, meaning in entry.exits]
    if global_rows:
        width = max(len(flags) for flags, _ in global_rows)
        parts.append("\n\b\nGLOBAL OPTIONS (before or after the command):")
        parts += [f"  {flags.ljust(width)}  {text}" for flags, text in global_rows]
    return "\n".join(parts)
