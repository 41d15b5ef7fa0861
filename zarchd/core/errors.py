"""zarchd's own exceptions. Library code raises these; only the CLI turns them into exit codes.

Each class carries the protocol error `code` the daemon sends and the `exit_code` zarchctl
returns, so one table serves both transports (local and socket).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_RUNNING = 3


class ZarchError(Exception):
    """An expected failure: the message says what happened and what to do."""

    code = "failed"
    exit_code = EXIT_FAILED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(ZarchError):
    code = "bad_usage"
    exit_code = EXIT_USAGE


class ConfigError(ZarchError):
    """Bad configuration; `problems` lists every one found, each naming file and key."""

    code = "bad_config"
    exit_code = EXIT_USAGE

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"bad configuration ({len(self.problems)} problem(s)):\n{lines}")


class DaemonNotRunning(ZarchError):
    code = "not_running"
    exit_code = EXIT_NOT_RUNNING


class LockHeld(ZarchError):
    """Another process (usually the daemon) holds the registry's single-writer lock."""

    code = "locked"


class RegistryError(ZarchError):
    """The registry cannot be opened or read."""

    code = "registry"


class IntegrityFailure(ZarchError):
    """A database (registry or backup) fails its integrity check."""

    code = "integrity"


class MigrationError(ZarchError):
    code = "migration_failed"


class MigrationTimeout(MigrationError):
    code = "migration_timeout"


class PlanError(MigrationError):
    """The set of migrations is inconsistent (missing or cyclic dependency, changed file)."""

    code = "bad_migrations"


class BackupError(ZarchError):
    code = "backup_failed"


class NotFound(ZarchError):
    code = "not_found"


class ProtocolError(ZarchError):
    code = "bad_request"


class Forbidden(ZarchError):
    """The control socket refused the caller: its uid is not the daemon's own (nor root)."""

    code = "forbidden"


class UnsafePath(ZarchError):
    """A file or directory another user could have planted or can swap: never trusted."""

    code = "unsafe_path"


class UnsafeDirectory(UnsafePath):
    """A directory zarchd must write in is writable by other users: a configuration to fix."""

    code = "unsafe_directory"
    exit_code = EXIT_USAGE


class RemoteError(ZarchError):
    """An rclone remote refused or failed an operation. `kind` says whether retrying can help:
    "temporary", "not_found", "immutable", "fatal", "nothing", "timeout", "missing", "cancelled",
    "error"."""

    code = "remote_failed"

    def __init__(self, message: str, kind: str = "error", rclone_code: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.rclone_code = rclone_code

    @property
    def retryable(self) -> bool:
        return self.kind not in ("fatal", "missing")


class Cancelled(ZarchError):
    """Work stopped because the daemon is shutting down or a deadline passed."""

    code = "cancelled"


_BY_CODE: dict[str, type[ZarchError]] = {}


def _collect(cls: type[ZarchError]) -> None:
    _BY_CODE.setdefault(cls.code, cls)
    for sub in cls.__subclasses__():
        _collect(sub)


_collect(ZarchError)


def error_class_for(code: str) -> type[ZarchError]:
    """The exception class for a protocol error code (unknown codes map to ZarchError)."""
    return _BY_CODE.get(code, ZarchError)
