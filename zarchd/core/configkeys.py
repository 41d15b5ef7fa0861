"""Every config key with the comment `zarchctl config init` writes above it, and TOML spelling.

One table beside core/config.py's schema: tests/core/test_configkeys.py fails when config.py
knows a key this table does not describe (add its line here), so the generated config, `config
show` and the README cannot fall behind.
"""

from __future__ import annotations

import json
from pathlib import Path

from zarchd.core import config, paths

SECTION_NOTES = {
    "registry": "The 7zarch-go registry zarchd guards.",
    "backup": "When and where backups are taken.",
    "retention": "How many backups prune keeps (zarchd's own backups only).",
    "migrations": "Schema migrations.",
    "check": "Integrity checks of the registry.",
    "control": "The control socket zarchctl talks to.",
    "log": "The daemon's log (stderr; the journal under systemd).",
    "notify": "Alerts: hook commands (argv, never a shell string), a ping URL, a metrics file.",
}

# [[remote]] key -> (comment, example value): the template shows one remote, commented out
# (there is none by default).
REMOTE_KEYS: dict[str, tuple[str, str]] = {
    "name": ("how zarchctl and status name this remote", '"offsite"'),
    "target": ("an rclone remote:path (set up with `rclone config`)", '"offsite:zarchd"'),
    "rclone_config": ('"": rclone\'s own lookup, or RCLONE_CONFIG_<NAME>_* variables', '""'),
    "prefix": ('"": "<hostname>/<registry stem>/", so machines can share a bucket', '""'),
    "bwlimit": ('rclone --bwlimit, e.g. "10M"; "": none', '""'),
    "verify": ("hash (server-side hash where the backend has one) or download", '"hash"'),
    "deep_verify_every": ("download one kept copy this often and check it whole", '"7d"'),
    "delete": ("false: never delete here (append-only or object-lock targets)", "true"),
    "max_age": ('for `zarchctl health`; "": notify.max_backup_age', '""'),
}

# (section, key) -> comment. Keys whose default is "" mean "derived" (the comment says from what).
KEYS: dict[tuple[str, str], str] = {
    ("registry", "path"): "the registry file (env ZARCH_REGISTRY)",
    ("registry", "create"): "true: `zarchd run` may create a missing registry at path (else only"
    " at the default path, or `zarchctl migrate`; a mistyped path is refused)",
    ("backup", "dir"): 'where backups go; "": the registry\'s own directory (as 7zarch-go does)',
    ("backup", "interval"): "scheduled backups; skipped when the registry is unchanged",
    ("backup", "cron"): 'a crontab expression ("0 3 * * *"); when set it replaces interval',
    ("backup", "on_change"): "also back up after the registry changes ...",
    ("backup", "debounce"): "... once it has been quiet this long",
    ("backup", "full_check_every"): "a full integrity_check of a backup this often (others get"
    " quick_check; backups up to 64 MiB always get the full one); 0: every backup",
    ("retention", "keep_last"): "the newest N backups",
    ("retention", "keep_hourly"): "the newest backup of each of the last N hours",
    ("retention", "keep_daily"): "... of each of the last N days",
    ("retention", "keep_weekly"): "... of each of the last N weeks",
    ("retention", "keep_monthly"): "... of each of the last N months",
    ("retention", "keep_yearly"): "... of each of the last N years",
    ("migrations", "auto"): "apply pending migrations at start and when the app version changes"
    " (env ZARCH_DB_AUTOMIGRATE)",
    ("migrations", "timeout"): "per migration; exceeded -> interrupted and rolled back",
    ("migrations", "dir"): 'extra migrations shipped by the application (NNNN_slug.sql); "": none',
    ("migrations", "app_version_file"): "a file holding the application's version; when it"
    ' changes, migrate; "": none',
    ("check", "interval"): "periodic integrity check of the registry",
    ("control", "socket"): '"": $XDG_RUNTIME_DIR/zarchd/zarchd.sock (env ZARCH_SOCKET)',
    ("log", "level"): "debug, info, warning or error (env ZARCH_LOG_LEVEL)",
    ("notify", "on_failure"): 'argv run when a job fails, e.g. ["notify-send", "zarchd failed"]',
    ("notify", "on_recovery"): "argv run when a job succeeds after it had failed",
    ("notify", "on_success"): "argv run after each successful backup",
    ("notify", "ping_url"): "healthchecks-style: <url>/start, <url> on success, <url>/fail",
    ("notify", "metrics_file"): 'Prometheus text format, rewritten after each job; "": none',
    ("notify", "max_backup_age"): 'for `zarchctl health`; "": twice backup.interval',
}

DURATIONS = {
    ("backup", "interval"),
    ("backup", "debounce"),
    ("backup", "full_check_every"),
    ("migrations", "timeout"),
    ("check", "interval"),
    ("notify", "max_backup_age"),
}


def known_keys() -> list[tuple[str, str]]:
    """Every key core/config.py accepts, in its order."""
    return [(section, key) for section, keys in config.SCHEMA.items() for key in keys]


def value_of(cfg: config.Config, section: str, key: str) -> object:
    return getattr(getattr(cfg, section), key)


def toml_value(section: str, key: str, value: object) -> str:
    """A value as config.py reads it back: durations as '1h', None as "" (the default)."""
    if value is None:
        return '""'
    if (section, key) in DURATIONS and isinstance(value, (int, float)):
        return json.dumps(config.format_duration(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (tuple, list)):
        return json.dumps([str(v) for v in value])
    return json.dumps(str(value))  # a JSON string is a TOML basic string


def template() -> str:
    """A commented config with every key at its default: it loads to the default Config."""
    defaults = config.Config()
    out = [
        "# zarchd config: every key at its default. Delete what you do not change.",
        "# Durations: 30s, 5m, 1h, 7d or whole seconds. Relative paths are relative to this file.",
    ]
    section = ""
    for sec, key in known_keys():
        if sec != section:
            section = sec
            out += ["", f"# {SECTION_NOTES.get(sec, '')}".rstrip(), f"[{sec}]"]
        value = value_of(defaults, sec, key)
        if (sec, key) == ("registry", "path"):
            value = paths.DEFAULT_REGISTRY  # `~` kept: the file stays right for its reader's home
        out.append(f"# {KEYS.get((sec, key), '')}".rstrip())
        out.append(f"{key} = {toml_value(sec, key, value)}")
    # Commented out so it loads to the defaults; removing the first "# " of each line gives a
    # working remote (its comments stay comments).
    out += ["", "# Off-site copies through rclone, one table per remote (none by default):"]
    out.append("# [[remote]]")
    for key, (comment, example) in REMOTE_KEYS.items():
        out += [f"# # {comment}", f"# {key} = {example}"]
    out.append("# # [remote.retention] with keep_* keys of its own (default: [retention] above)")
    return "\n".join(out) + "\n"


def sources(cfg: config.Config, env: dict[str, str]) -> dict[tuple[str, str], str]:
    """Where each effective value came from: default, the file, or an environment variable."""
    from_file: dict[str, dict[str, object]] = {}
    if cfg.source is not None:
        import tomllib

        try:
            from_file = tomllib.loads(Path(cfg.source).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            from_file = {}  # read a moment ago by load_config; gone since: say "default"
    found = {}
    for sec, key in known_keys():
        table = from_file.get(sec)
        found[(sec, key)] = "file" if isinstance(table, dict) and key in table else "default"
    for var, where in config.ENV_OVERRIDES.items():
        if var in env:
            found[where] = f"env {var}"
    return found
