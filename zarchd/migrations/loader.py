"""Application migrations: SQL files `NNNN_slug.sql` in the configured directory.

    -- name: Add tags to archives
    -- depends: 0005_search_index
    -- migrate:up
    ALTER TABLE archives ADD COLUMN tags TEXT;
    -- migrate:down
    ALTER TABLE archives DROP COLUMN tags;

The id is the file's stem. `-- name:` is optional (default: the slug in words). `-- depends:`
lists ids separated by commas or spaces; without it the migration depends on the last built-in
(0005_search_index), so application migrations always come after 7zarch-go's own. The down
part is optional; without it the migration refuses to roll back. Transaction control (BEGIN,
COMMIT, ...) is not allowed: the runner owns the transaction.

Files whose names do not match are ignored with a warning; a matching file that is malformed
is a PlanError naming it, before anything runs.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from pathlib import Path

from zarchd.core.errors import PlanError
from zarchd.core.fsutil import owner_name, shared_dir_risk, untrusted_reason
from zarchd.migrations.builtins import LAST_BUILTIN
from zarchd.migrations.model import Migration
from zarchd.migrations.sqltext import IncompleteSQL, checksum, first_keyword, split_statements

log = logging.getLogger(__name__)

_ID = r"(\d{4})_([A-Za-z0-9][A-Za-z0-9_-]*)"
FILE_NAME = re.compile(rf"^{_ID}\.sql$")
ID = re.compile(rf"^{_ID}$")
_MARKER = re.compile(r"^\s*--\s*migrate:(up|down)\s*$", re.IGNORECASE)
_HEADER = re.compile(r"^\s*--\s*(name|depends)\s*:(.*)$", re.IGNORECASE)
_FORBIDDEN = {
    "BEGIN",
    "COMMIT",
    "END",
    "ROLLBACK",
    "SAVEPOINT",
    "RELEASE",
    "VACUUM",
    "ATTACH",
    "DETACH",
}
# Writing sqlite_master directly can leave a schema SQLite cannot parse: never in a migration.
_WRITABLE_SCHEMA = re.compile(r"writable_schema", re.IGNORECASE)


def load_dir(directory: Path) -> list[Migration]:
    """Every migration file in `directory`, by file name (ordering is the planner's job)."""
    if not directory.is_dir():
        raise PlanError(
            f"the migrations directory {directory} does not exist or is not a directory"
        )
    _check_dir(directory)
    found = []
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or path.is_dir():
            continue
        if not FILE_NAME.match(path.name):
            log.warning("ignoring %s in the migrations directory: not named NNNN_slug.sql", path)
            continue
        found.append(load_file(path))
    return found


_OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH


def _check_dir(directory: Path) -> None:
    """A migration runs against the registry: one another user could plant must never be
    loaded. So the directory is refused when others could add files to it (sticky or not: a
    shared directory has no use here, and one planted file would stop every migration)."""
    st = directory.stat()
    if shared_dir_risk(st) == "owner":
        raise PlanError(
            f"the migrations directory {directory} belongs to {owner_name(st.st_uid)}, not to "
            f"zarchd's user or root: its owner could plant a migration that runs against the "
            f"registry; use a directory you own (or chown it)"
        )
    if st.st_mode & _OTHERS_WRITE:
        raise PlanError(
            f"the migrations directory {directory} is writable by other users (mode "
            f"{stat.S_IMODE(st.st_mode):o}): they could plant a migration that runs against the "
            f"registry; fix it with `chmod go-w {directory}`"
        )


def load_file(path: Path) -> Migration:
    """The migration in `path`: a regular file of zarchd's user or root (a link is followed to
    such a file: an application may ship its migrations elsewhere)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise PlanError(f"cannot read the migration file {path}: {exc}") from exc
    try:
        st = os.fstat(fd)
        why = untrusted_reason(st)
        if why is None and st.st_mode & _OTHERS_WRITE:
            why = (
                f"it is writable by other users (mode {stat.S_IMODE(st.st_mode):o}; fix it "
                f"with `chmod go-w`)"
            )
        if why is not None:
            raise PlanError(
                f"the migration file {path} is not trusted: {why}; a migration runs against "
                f"the registry, so only yours or root's are loaded (remove it, or chown it)"
            )
        with os.fdopen(os.dup(fd), "rb") as fh:
            text = fh.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"cannot read the migration file {path}: {exc}") from exc
    finally:
        os.close(fd)
    return parse(text, path)


def parse(text: str, path: Path) -> Migration:
    """The Migration described by `text`, the content of the file at `path`."""
    match = FILE_NAME.match(path.name)
    if not match:
        raise PlanError(f"{path}: migration files are named NNNN_slug.sql")
    mig_id = path.stem
    headers, sections = _sections(text, path)
    if "up" not in sections:
        raise PlanError(f"{path}: no '-- migrate:up' line")
    up, down = sections["up"], sections.get("down")
    up_statements = _checked_statements(up, path, "up")
    down_statements = _checked_statements(down, path, "down") if down is not None else []
    if not up_statements:
        raise PlanError(f"{path}: the '-- migrate:up' part has no SQL")
    down_sql = down.strip() + "\n" if down is not None and down_statements else None
    depends = _depends(headers.get("depends"), path, mig_id)
    name = (headers.get("name") or match.group(2).replace("_", " ").replace("-", " ")).strip()
    return Migration(
        id=mig_id,
        name=name,
        depends=depends,
        source=str(path),
        checksum=checksum(text),
        up_sql=up.strip() + "\n",
        down_sql=down_sql,
    )


def _sections(text: str, path: Path) -> tuple[dict[str, str], dict[str, str]]:
    headers: dict[str, str] = {}
    sections: dict[str, list[str]] = {}
    current: str | None = None
    stray = 0  # first line of SQL before the up marker
    for number, line in enumerate(text.splitlines(), 1):
        marker = _MARKER.match(line)
        if marker:
            part = marker.group(1).lower()
            if part in sections:
                raise PlanError(f"{path}:{number}: a second '-- migrate:{part}' line")
            if part == "up" and "down" in sections:
                raise PlanError(
                    f"{path}:{number}: '-- migrate:up' must come before '-- migrate:down'"
                )
            current = part
            sections[part] = []
        elif current is not None:
            sections[current].append(line)
        elif header := _HEADER.match(line):
            key = header.group(1).lower()
            if key in headers:
                raise PlanError(f"{path}:{number}: '-- {key}:' given twice")
            headers[key] = header.group(2).strip()
        elif line.strip() and not line.lstrip().startswith("--") and not stray:
            stray = number
    if stray and "up" in sections:
        raise PlanError(f"{path}:{stray}: SQL before the '-- migrate:up' line")
    return headers, {part: "\n".join(lines) for part, lines in sections.items()}


def _checked_statements(sql: str, path: Path, part: str) -> list[str]:
    """The statements of one part; a PlanError if one is incomplete or controls transactions."""
    try:
        statements = split_statements(sql)
    except IncompleteSQL as exc:
        raise PlanError(f"{path}: the '-- migrate:{part}' part: {exc}") from exc
    for statement in statements:
        keyword = first_keyword(statement)
        if keyword in _FORBIDDEN:
            raise PlanError(
                f"{path}: the '-- migrate:{part}' part uses {keyword}; zarchd runs "
                "each migration in its own transaction, leave transaction control out"
            )
        if keyword == "PRAGMA" and _WRITABLE_SCHEMA.search(statement):
            raise PlanError(
                f"{path}: the '-- migrate:{part}' part uses PRAGMA writable_schema; "
                "editing sqlite_master directly can make the registry unreadable, "
                "change the schema with CREATE/ALTER/DROP instead"
            )
    return statements


def _depends(value: str | None, path: Path, mig_id: str) -> tuple[str, ...]:
    if value is None:
        return (LAST_BUILTIN,)
    ids = tuple(dict.fromkeys(p for p in re.split(r"[,\s]+", value) if p))
    for dep in ids:
        if not ID.match(dep):
            raise PlanError(
                f"{path}: '-- depends:' names {dep!r}, which is not a migration id (NNNN_slug)"
            )
        if dep == mig_id:
            raise PlanError(f"{path}: the migration depends on itself")
    return ids
