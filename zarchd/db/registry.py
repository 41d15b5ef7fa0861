"""Connections to the registry and what can be learned from it without changing it."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from zarchd.core.errors import RegistryError

# Where a commit lands besides the database itself (-shm also changes when a reader opens it).
COMMIT_COMPANIONS = ("-wal", "-journal")
COMPANIONS = (*COMMIT_COMPANIONS, "-shm")
DEFAULT_LOCK_TIMEOUT = 5.0
# sqlite3 error names that mean "the file is damaged"; busy/locked/cannot-open/I/O mean "could
# not look", which must never be reported as damage (it would send users to `recover`).
_CORRUPTION = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
_CORRUPTION_TEXT = ("malformed", "not a database")


def connect(
    path: Path,
    *,
    timeout: float = DEFAULT_LOCK_TIMEOUT,
    readonly: bool = False,
    create: bool = False,
) -> sqlite3.Connection:
    """Open `path` in autocommit mode (we issue BEGIN IMMEDIATE / COMMIT ourselves).

    `timeout` bounds waits for another connection's lock (SQLite's busy timeout). A read-only
    connection never creates the file; a writable one only with `create`.
    """
    if not create and not path.exists():
        raise RegistryError(f"the registry {path} does not exist")
    if path.is_dir():
        raise RegistryError(
            f"the registry path {path} is a directory, not a database file; "
            f"set [registry] path to the registry file"
        )
    mode = "ro" if readonly else ("rwc" if create else "rw")
    uri = file_uri(path, mode=mode)
    try:
        conn = sqlite3.connect(
            uri, uri=True, timeout=timeout, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise RegistryError(f"cannot open the registry {path}: {exc}") from exc
    return conn


def file_uri(path: Path, **params: str | int) -> str:
    """`file:` URI for `path` with query parameters (mode=ro, immutable=1, ...)."""
    # URI filenames: '%', '?' and '#' must be escaped; everything else passes through.
    quoted = str(path.absolute()).replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"file:{quoted}?{query}" if query else f"file:{quoted}"


def open_static(path: Path) -> sqlite3.Connection:
    """Open a file nobody writes (a backup, our own temp copy): read-only and immutable.

    `immutable=1` also stops SQLite from creating -wal/-shm files next to a backup that
    7zarch-go copied from a WAL-mode registry, and takes no locks.
    """
    if not path.is_file():
        why = "it is a directory" if path.is_dir() else "the file does not exist"
        raise RegistryError(f"cannot open {path}: {why}")
    try:
        return sqlite3.connect(
            file_uri(path, mode="ro", immutable=1),
            uri=True,
            isolation_level=None,
            check_same_thread=False,
        )
    except sqlite3.Error as exc:
        raise RegistryError(f"cannot open {path}: {exc}") from exc


def companions(path: Path) -> list[Path]:
    """registry.db-wal, -journal, -shm: the files SQLite keeps next to the database."""
    return [path.with_name(path.name + suffix) for suffix in COMPANIONS]


def wal_path(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


def journal_path(path: Path) -> Path:
    return path.with_name(path.name + "-journal")


def is_corruption(exc: sqlite3.Error) -> bool:
    """True when SQLite says the file itself is damaged (not busy, locked or unreadable)."""
    # Absent when the sqlite3 module itself raised (e.g. a closed connection), not SQLite.
    name: str | None = getattr(exc, "sqlite_errorname", None)
    if name:
        return name.startswith(_CORRUPTION)
    return any(t in str(exc) for t in _CORRUPTION_TEXT)


def is_busy(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", None) or ""
    if name:
        return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))
    return "locked" in str(exc) or "busy" in str(exc)


def integrity_check(
    conn: sqlite3.Connection,
    *,
    quick: bool = False,
    max_errors: int = 20,
    what: str = "the database",
    table: str | None = None,
) -> list[str]:
    """['ok'] when the database is sound, else the problems SQLite reports (at most max_errors).
    With `table`, only that table and its indexes are checked (then max_errors does not apply).

    Raises RegistryError when the check could not run (locked by another process, I/O error):
    that says nothing about the file being damaged.
    """
    pragma = "quick_check" if quick else "integrity_check"
    try:
        arg = quote_ident(table) if table is not None else str(int(max_errors))
        return [row[0] for row in conn.execute(f"PRAGMA {pragma}({arg})")]
    except sqlite3.DatabaseError as exc:
        if is_corruption(exc):
            return [f"{type(exc).__name__}: {exc}"]
        raise _could_not_check(exc, what) from exc


def _could_not_check(exc: sqlite3.Error, what: str) -> RegistryError:
    if is_busy(exc):
        return RegistryError(
            f"{what} is locked by another process ({exc}); could not check it, try again"
        )
    return RegistryError(
        f"could not check {what}: {exc}; this says nothing about damage, "
        f"fix the cause and try again"
    )


def check_file(
    path: Path, *, quick: bool = False, timeout: float = DEFAULT_LOCK_TIMEOUT, static: bool = False
) -> list[str]:
    """Integrity of the database file at `path`: ['ok'], or the damage SQLite reports.

    Raises RegistryError when it could not be checked at all (missing, no permission, locked by
    another process, I/O error). `static` opens a file nobody writes (a backup, our own temp
    copy) immutable: no locks, no -wal/-shm created next to it.
    """
    conn = open_static(path) if static else connect(path, readonly=True, timeout=timeout)
    try:
        return integrity_check(
            conn, quick=quick, what=f"the {'database' if static else 'registry'} {path}"
        )
    except RegistryError as exc:
        told = None if static else hot_journal(path, exc.message)
        if told is not None:
            raise RegistryError(f"could not check it: {told}") from exc
        raise
    finally:
        conn.close()


def hot_journal(registry: Path, error: object) -> str | None:
    """What to tell when a read-only open failed on a hot journal (a writer died mid-transaction:
    only a read-write open, 7zarch-go's next one, rolls it back); None for any other error.
    Not damage: recover would refuse."""
    journal = Path(f"{registry}-journal")
    if "readonly" not in str(error) or not os.path.lexists(journal):
        return None
    return (
        f"a writer of {registry} stopped mid-transaction and left {journal.name}; SQLite "
        "rolls it back when 7zarch-go next opens the registry (or run `sqlite3 "
        f"{registry} 'PRAGMA quick_check'`)"
    )


def table_names(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {r[0] for r in rows}


def column_names(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({quote_ident(table)})")]


def index_names(conn: sqlite3.Connection, table: str | None = None) -> set[str]:
    if table is None:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
    else:
        rows = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table,)
        )
    return {r[0] for r in rows}


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class FileFacts:
    """What `status` shows about the file itself."""

    path: Path
    exists: bool
    size_bytes: int
    journal_mode: str | None


def file_facts(path: Path, *, timeout: float = 0.5) -> FileFacts:
    """Size from stat; the journal mode through SQLite, never from a plain open() of the file:
    closing that descriptor would drop the locks of every SQLite connection this process holds
    on the registry (a backup or check running meanwhile). None when SQLite could not say
    within `timeout` (a writer holds it) or the file is not a database."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return FileFacts(path, False, 0, None)
    except OSError:
        return FileFacts(path, True, 0, None)
    return FileFacts(path, True, size, _journal_mode(path, timeout) if size else None)


def _journal_mode(path: Path, timeout: float) -> str | None:
    try:
        conn = connect(path, readonly=True, timeout=timeout)
    except RegistryError:
        return None
    try:
        # The first read loads the header (bytes 18-19 say WAL or rollback journal).
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return "wal" if mode == "wal" else "rollback"
