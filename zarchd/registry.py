"""Connections to the registry and what can be learned from it without changing it."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .errors import RegistryError

COMPANIONS = ("-wal", "-shm", "-journal")
DEFAULT_LOCK_TIMEOUT = 5.0


def connect(path: Path, *, timeout: float = DEFAULT_LOCK_TIMEOUT, readonly: bool = False,
            create: bool = False) -> sqlite3.Connection:
    """Open `path` in autocommit mode (we issue BEGIN IMMEDIATE / COMMIT ourselves).

    `timeout` bounds waits for another connection's lock (SQLite's busy timeout). A read-only
    connection never creates the file; a writable one only with `create`.
    """
    if not create and not path.exists():
        raise RegistryError(f"the registry {path} does not exist")
    mode = "ro" if readonly else ("rwc" if create else "rw")
    uri = f"file:{_quote(path.absolute())}?mode={mode}"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None,
                               check_same_thread=False)
    except sqlite3.Error as exc:
        raise RegistryError(f"cannot open the registry {path}: {exc}") from exc
    return conn


def _quote(path: Path) -> str:
    # URI filenames: '?' and '#' and '%' must be escaped; everything else passes through.
    return str(path).replace("%", "%25").replace("?", "%3f").replace("#", "%23")


def companions(path: Path) -> list[Path]:
    """registry.db-wal, -shm, -journal: the files SQLite keeps next to the database."""
    return [path.with_name(path.name + suffix) for suffix in COMPANIONS]


def integrity_check(conn: sqlite3.Connection, *, quick: bool = False,
                    max_errors: int = 20) -> list[str]:
    """['ok'] when the database is sound, else the problems SQLite reports (at most max_errors)."""
    pragma = "quick_check" if quick else "integrity_check"
    try:
        return [row[0] for row in conn.execute(f"PRAGMA {pragma}({int(max_errors)})")]
    except sqlite3.DatabaseError as exc:
        return [f"{type(exc).__name__}: {exc}"]


def check_file(path: Path, *, quick: bool = False, timeout: float = DEFAULT_LOCK_TIMEOUT) -> list[str]:
    """Integrity of the database file at `path`, opened read-only; never raises for a bad file."""
    try:
        conn = connect(path, readonly=True, timeout=timeout)
    except RegistryError as exc:
        return [exc.message]
    try:
        return integrity_check(conn, quick=quick)
    finally:
        conn.close()


def table_names(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {r[0] for r in rows}


def column_names(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({quote_ident(table)})")]


def index_names(conn: sqlite3.Connection, table: str | None = None) -> set[str]:
    if table is None:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
    else:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
                            (table,))
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


def file_facts(path: Path) -> FileFacts:
    if not path.exists():
        return FileFacts(path, False, 0, None)
    size = path.stat().st_size
    mode: str | None = None
    try:
        conn = connect(path, readonly=True)
        try:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        finally:
            conn.close()
    except (RegistryError, sqlite3.DatabaseError):
        mode = None
    return FileFacts(path, True, size, mode)
