"""Typed configuration: defaults, TOML file, environment overrides; all problems told at once."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zarchd.core import paths
from zarchd.core.errors import ConfigError

LOG_LEVELS = ("debug", "info", "warning", "error")
# Longer than any sensible schedule, short enough for APScheduler and timedelta to hold.
MAX_DURATION_S = 10 * 366 * 86400.0
# AF_UNIX socket paths hold at most 107 bytes (plus the NUL) on Linux, 103 on macOS.
MAX_SOCKET_PATH = 103
# Whole numbers of a unit only: no fractions, no milliseconds (`1ms` once meant 1,000 runs/second).
_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
DURATION_FORMS = "a duration like '30s', '5m', '1h', '7d' or whole seconds"
# Floors that keep a typo from turning the daemon into a busy loop (README, Configuration).
MIN_SECONDS = {
    "backup.interval": 1,
    "backup.debounce": 1,
    "check.interval": 60,
    "migrations.timeout": 1,
}


def parse_duration(value: object) -> float:
    """'30s', '5m', '1h', '7d' or integer seconds -> seconds. Raises ValueError."""
    seconds: float | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            seconds = float(int(m.group(1)) * _UNIT_SECONDS[m.group(2)])
    if seconds is None:
        raise ValueError(DURATION_FORMS)
    if seconds < 0:
        raise ValueError("a duration that is not negative")
    if seconds > MAX_DURATION_S:
        raise ValueError("a duration of at most 10 years")
    return seconds


def _duration_at_least(key: str) -> Callable[[object], float]:
    minimum = MIN_SECONDS[key]

    def convert(value: object) -> float:
        seconds = parse_duration(value)
        if seconds < minimum:
            raise ValueError(f"{DURATION_FORMS}, at least {format_duration(minimum)}")
        return seconds

    return convert


def format_duration(seconds: float) -> str:
    for unit in ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


@dataclass(frozen=True)
class RetentionPolicy:
    keep_last: int = 10
    keep_hourly: int = 24
    keep_daily: int = 7
    keep_weekly: int = 4
    keep_monthly: int = 12
    keep_yearly: int = 2


@dataclass(frozen=True)
class RegistrySection:
    # Expanded when a config is built, not at import, so $HOME is read when it matters.
    path: Path = field(default_factory=lambda: Path(paths.DEFAULT_REGISTRY).expanduser())


@dataclass(frozen=True)
class BackupSection:
    dir: Path | None = None  # None: the registry's own directory
    interval: float = 3600.0
    cron: str = ""
    on_change: bool = True
    debounce: float = 30.0
    # Backups over 64 MiB get quick_check, and the full integrity_check when none taken within
    # this long got one; 0: every backup gets the full check (backups/checkplan.py).
    full_check_every: float = 7 * 86400.0


@dataclass(frozen=True)
class MigrationsSection:
    auto: bool = True
    timeout: float = 30.0
    dir: Path | None = None
    app_version_file: Path | None = None


@dataclass(frozen=True)
class CheckSection:
    interval: float = 86400.0


@dataclass(frozen=True)
class ControlSection:
    socket: Path | None = None  # None: paths.default_socket()


@dataclass(frozen=True)
class LogSection:
    level: str = "info"


@dataclass(frozen=True)
class NotifySection:
    """[notify]: hook commands (argv), a healthchecks-style URL, a metrics file (README)."""

    on_failure: tuple[str, ...] = ()
    on_recovery: tuple[str, ...] = ()
    on_success: tuple[str, ...] = ()
    ping_url: str = ""
    metrics_file: Path | None = None
    max_backup_age: float | None = None  # None: twice backup.interval (Config.max_backup_age)


@dataclass(frozen=True)
class RemoteConfig:
    """One `[[remote]]` table: an rclone remote:path that receives a copy of every backup."""

    name: str
    target: str  # an rclone remote:path (or a local path rclone understands)
    rclone_config: Path | None = None  # None: rclone's own lookup or RCLONE_CONFIG_<NAME>_*
    prefix: str = ""  # "": "<hostname>/<registry stem>/" (prefix_for)
    bwlimit: str = ""
    verify: str = "hash"  # hash | download
    deep_verify_every: float = 7 * 86400.0
    delete: bool = True  # False: never delete anything there (append-only, object lock)
    retention: RetentionPolicy | None = None  # None: the local [retention] policy
    max_age: float | None = None  # None: the config's max_backup_age

    def prefix_for(self, host: str, stem: str) -> str:
        """The directory under `target` holding this registry's copies, ending in '/'."""
        if self.prefix:
            return self.prefix
        return f"{host}/{stem}/"


@dataclass(frozen=True)
class Config:
    registry: RegistrySection = field(default_factory=RegistrySection)
    backup: BackupSection = field(default_factory=BackupSection)
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    migrations: MigrationsSection = field(default_factory=MigrationsSection)
    check: CheckSection = field(default_factory=CheckSection)
    control: ControlSection = field(default_factory=ControlSection)
    log: LogSection = field(default_factory=LogSection)
    notify: NotifySection = field(default_factory=NotifySection)
    remotes: tuple[RemoteConfig, ...] = ()
    source: Path | None = None  # the file it was read from, if any

    @property
    def registry_path(self) -> Path:
        return self.registry.path

    @property
    def backup_dir(self) -> Path:
        return self.backup.dir or self.registry.path.parent

    @property
    def socket_path(self) -> Path:
        return self.control.socket or paths.default_socket()

    @property
    def state_dir(self) -> Path:
        return paths.state_dir_for(self.registry.path)

    @property
    def max_backup_age(self) -> float:
        """Newest verified backup older than this: not healthy (default twice the interval)."""
        if self.notify.max_backup_age is not None:
            return self.notify.max_backup_age
        return 2 * self.backup.interval

    def remote_retention(self, remote: RemoteConfig) -> RetentionPolicy:
        return remote.retention or self.retention

    def remote_max_age(self, remote: RemoteConfig) -> float:
        return remote.max_age if remote.max_age is not None else self.max_backup_age


# ---- validation -------------------------------------------------------------------------------

Converter = Callable[[object], Any]


def _path(value: object) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a path (non-empty string)")
    if "\0" in value:
        raise ValueError("a path without NUL characters")
    return Path(value).expanduser()


def socket_path(value: object) -> Path:
    """A control socket path: a path short enough for AF_UNIX."""
    path = _path(value)
    if len(os.fsencode(str(path.absolute()))) > MAX_SOCKET_PATH:
        raise ValueError(
            f"a socket path of at most {MAX_SOCKET_PATH} bytes (this one is too "
            "long for a Unix socket); choose a shorter directory"
        )
    return path.absolute()


def _opt_socket(value: object) -> Path | None:
    return None if value == "" else socket_path(value)


def _opt_path(value: object) -> Path | None:
    if value == "":
        return None
    return _path(value)


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off"):
        return False
    raise ValueError("true or false")


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("a whole number, 0 or more")
    return value


def _cron(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("a crontab expression string like '0 * * * *', or \"\"")
    if value.strip():
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value.strip())
        except ValueError as exc:
            raise ValueError(f"a valid crontab expression like '0 * * * *' ({exc})") from None
    return value.strip()


def _level(value: object) -> str:
    if isinstance(value, str) and value.strip().lower() in LOG_LEVELS:
        return value.strip().lower()
    raise ValueError("one of " + ", ".join(LOG_LEVELS))


def _argv(value: object) -> tuple[str, ...]:
    """A command as a list of arguments, run without a shell: event data never becomes code."""
    if isinstance(value, str):
        raise ValueError(
            'a list of arguments like ["notify-send", "zarchd"], not a shell string '
            '(no shell runs it; wrap one explicitly: ["sh", "-c", "..."])'
        )
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
        raise ValueError("a list of strings (program and arguments), or []")
    if value and not value[0].strip():
        raise ValueError("a list whose first item names the program to run")
    if any("\0" in a for a in value):
        raise ValueError("arguments without NUL characters")
    return tuple(value)


def _url(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError('an http:// or https:// URL, or ""')
    from urllib.parse import urlsplit

    text = value.strip()
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in text):
        raise ValueError('an http:// or https:// URL with a host, or ""')
    return text.rstrip("/")


def _opt_age(value: object) -> float | None:
    if value == "":
        return None
    seconds = parse_duration(value)
    if seconds < 60:
        raise ValueError(f'{DURATION_FORMS}, at least 1m, or "" (twice backup.interval)')
    return seconds


_SCHEMA: dict[str, dict[str, Converter]] = {
    "registry": {"path": _path},
    "backup": {
        "dir": _opt_path,
        "interval": _duration_at_least("backup.interval"),
        "cron": _cron,
        "on_change": _bool,
        "debounce": _duration_at_least("backup.debounce"),
        "full_check_every": parse_duration,
    },
    "retention": {k: _count for k in RetentionPolicy.__dataclass_fields__},
    "migrations": {
        "auto": _bool,
        "timeout": _duration_at_least("migrations.timeout"),
        "dir": _opt_path,
        "app_version_file": _opt_path,
    },
    "check": {"interval": _duration_at_least("check.interval")},
    "control": {"socket": _opt_socket},
    "log": {"level": _level},
    "notify": {
        "on_failure": _argv,
        "on_recovery": _argv,
        "on_success": _argv,
        "ping_url": _url,
        "metrics_file": _opt_path,
        "max_backup_age": _opt_age,
    },
}
_SECTION_TYPES = {
    "registry": RegistrySection,
    "backup": BackupSection,
    "retention": RetentionPolicy,
    "migrations": MigrationsSection,
    "check": CheckSection,
    "control": ControlSection,
    "log": LogSection,
    "notify": NotifySection,
}
_ENV: dict[str, tuple[str, str]] = {
    "ZARCH_REGISTRY": ("registry", "path"),
    "ZARCH_SOCKET": ("control", "socket"),
    "ZARCH_LOG_LEVEL": ("log", "level"),
    "ZARCH_DB_AUTOMIGRATE": ("migrations", "auto"),
}


_PATH_KEYS = {
    ("registry", "path"),
    ("backup", "dir"),
    ("migrations", "dir"),
    ("migrations", "app_version_file"),
    ("control", "socket"),
    ("notify", "metrics_file"),
}


def _anchor(section: str, key: str, value: object, base: Path) -> object:
    """Relative paths are relative to the config file (or, from the environment, the current
    directory), never to wherever a service manager happens to start the daemon. Done before
    conversion so that checks on the final path (the socket's length) see the real one."""
    if (section, key) not in _PATH_KEYS or not isinstance(value, str) or not value.strip():
        return value
    if os.path.isabs(os.path.expanduser(value)):
        return value
    return str(base / value)


def find_config_file(explicit: Path | None, env: Mapping[str, str]) -> tuple[Path, bool]:
    """The file to read and whether the user named it (a named file must exist)."""
    if explicit is not None:
        return explicit.expanduser(), True
    if env.get("ZARCH_CONFIG"):
        return Path(env["ZARCH_CONFIG"]).expanduser(), True
    return paths.config_file(), False


def load_config(explicit: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read config from `explicit` / $ZARCH_CONFIG / the user config dir; apply env overrides.

    Raises ConfigError listing every problem found (file, key, what was expected).
    """
    env = os.environ if env is None else env
    path, named = find_config_file(explicit, env)
    raw: dict[str, Any] = {}
    problems: list[str] = []
    source: Path | None = None
    if path.exists() or named:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
            source = path
        except FileNotFoundError:
            problems.append(f"{path}: the config file does not exist")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: cannot read the config file ({exc})")
        except tomllib.TOMLDecodeError as exc:
            problems.append(f"{path}: not valid TOML ({exc})")
    values: dict[str, dict[str, Any]] = {name: {} for name in _SCHEMA}
    for section, content in raw.items():
        if section == "remote":  # [[remote]] tables: _remotes()
            continue
        if section not in _SCHEMA:
            problems.append(
                f"{path}: unknown section [{section}] (known: {', '.join([*_SCHEMA, 'remote'])})"
            )
            continue
        if not isinstance(content, dict):
            problems.append(f"{path}: '{section}' must be a table [{section}]")
            continue
        for key, value in content.items():
            conv = _SCHEMA[section].get(key)
            if conv is None:
                known = ", ".join(_SCHEMA[section])
                problems.append(f"{path}: unknown key {section}.{key} (known: {known})")
                continue
            try:
                values[section][key] = conv(_anchor(section, key, value, path.parent.absolute()))
            except ValueError as exc:
                problems.append(f"{path}: {section}.{key} = {value!r}: expected {exc}")
    for var, (section, key) in _ENV.items():
        if var in env:
            try:
                values[section][key] = _SCHEMA[section][key](
                    _anchor(section, key, env[var], Path.cwd())
                )
            except ValueError as exc:
                problems.append(f"environment {var}={env[var]!r}: expected {exc}")
    remotes = _remotes(raw.get("remote"), path, problems)
    if problems:
        raise ConfigError(problems)
    sections = {name: _SECTION_TYPES[name](**values[name]) for name in _SCHEMA}
    return Config(**sections, remotes=remotes, source=source)


# ---- [[remote]] tables --------------------------------------------------------------------------

_REMOTE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
# rclone's --bwlimit: "10M", "512k", "off", or a timetable like "08:00,512k 19:00,off".
_BWLIMIT = re.compile(r"^[0-9A-Za-z.:,| -]*$")


def _remote_name(value: object) -> str:
    if isinstance(value, str) and _REMOTE_NAME.match(value):
        return value
    raise ValueError("a name of letters, digits, '_' and '-' (at most 64, first a letter/digit)")


def _remote_target(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError('an rclone remote:path like "offsite:zarchd"')
    if any(c in value for c in "\0\n\r"):
        raise ValueError("an rclone remote:path without NUL or line breaks")
    return value.strip()


def _remote_prefix(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError('a path inside the target like "laptop/registry/", or ""')
    text = value.strip().strip("/")
    if not text:
        return ""
    parts = text.split("/")
    if any(p in ("", ".", "..") for p in parts) or any(c in text for c in "\0\n\r\\"):
        raise ValueError('a relative path without "..", "." or empty parts, or ""')
    return text + "/"


def _bwlimit(value: object) -> str:
    if isinstance(value, str) and _BWLIMIT.match(value.strip()):
        return value.strip()
    raise ValueError('an rclone --bwlimit value like "10M" or "08:00,512k 19:00,off", or ""')


def _verify(value: object) -> str:
    if value in ("hash", "download"):
        return str(value)
    raise ValueError('"hash" (size and server-side hash, else download) or "download"')


def _deep_every(value: object) -> float:
    seconds = parse_duration(value)
    if seconds < 60:
        raise ValueError(f"{DURATION_FORMS}, at least 1m")
    return seconds


_REMOTE_SCHEMA: dict[str, Converter] = {
    "name": _remote_name,
    "target": _remote_target,
    "rclone_config": _opt_path,
    "prefix": _remote_prefix,
    "bwlimit": _bwlimit,
    "verify": _verify,
    "deep_verify_every": _deep_every,
    "delete": _bool,
    "max_age": _opt_age,
}


def _remotes(raw: object, path: Path, problems: list[str]) -> tuple[RemoteConfig, ...]:
    """Every `[[remote]]` table; problems appended (file, remote index/name, key, expectation)."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        problems.append(f"{path}: 'remote' must be an array of tables [[remote]]")
        return ()
    out: list[RemoteConfig] = []
    seen: set[str] = set()
    for index, table in enumerate(raw, 1):
        where = f"remote #{index}" + (f" ({table['name']!r})" if "name" in table else "")
        values: dict[str, Any] = {}
        ok = True
        for key, value in table.items():
            if key == "retention":
                values["retention"] = _remote_retention(value, path, where, problems)
                ok = ok and values["retention"] is not None
                continue
            conv = _REMOTE_SCHEMA.get(key)
            if conv is None:
                known = ", ".join([*_REMOTE_SCHEMA, "retention"])
                problems.append(f"{path}: {where}: unknown key {key} (known: {known})")
                ok = False
                continue
            if key == "rclone_config" and _relative(value):
                # Relative to the config file, like every other path in it.
                value = str(path.parent.absolute() / str(value))
            try:
                values[key] = conv(value)
            except ValueError as exc:
                problems.append(f"{path}: {where}: {key} = {value!r}: expected {exc}")
                ok = False
        for key in ("name", "target"):
            if key not in table:
                problems.append(f"{path}: {where}: {key} is required")
                ok = False
        name = values.get("name")
        if isinstance(name, str):
            if name in seen:
                problems.append(f"{path}: {where}: the name {name!r} is used by two remotes")
                ok = False
            seen.add(name)
        if ok:
            out.append(RemoteConfig(**values))
    return tuple(out)


def _relative(value: object) -> bool:
    return (
        isinstance(value, str)
        and bool(value.strip())
        and not os.path.isabs(os.path.expanduser(value))
    )


def _remote_retention(
    value: object, path: Path, where: str, problems: list[str]
) -> RetentionPolicy | None:
    if not isinstance(value, dict):
        problems.append(f"{path}: {where}: retention must be a table [remote.retention]")
        return None
    counts: dict[str, int] = {}
    bad = False
    for key, count in value.items():
        if key not in RetentionPolicy.__dataclass_fields__:
            known = ", ".join(RetentionPolicy.__dataclass_fields__)
            problems.append(f"{path}: {where}: unknown key retention.{key} (known: {known})")
            bad = True
            continue
        try:
            counts[key] = _count(count)
        except ValueError as exc:
            problems.append(f"{path}: {where}: retention.{key} = {count!r}: expected {exc}")
            bad = True
    return None if bad else RetentionPolicy(**counts)


# Read by core/configkeys.py (`zarchctl config init|show`): the one list of keys and env names.
SCHEMA: Mapping[str, Mapping[str, Converter]] = _SCHEMA
ENV_OVERRIDES: Mapping[str, tuple[str, str]] = _ENV
REMOTE_SCHEMA: Mapping[str, Converter] = _REMOTE_SCHEMA
