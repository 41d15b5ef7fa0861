"""The 7zarch-go schema, as text: the shapes 7zarch-go writes and reads."""

from __future__ import annotations

# Exactly the columns 7zarch-go creates; zarchd never alters this table (its extras live in
# zarchd_migrations), so 7zarch-go keeps reading it as its own.
SCHEMA_MIGRATIONS = """CREATE TABLE IF NOT EXISTS schema_migrations (
\t\tid TEXT PRIMARY KEY,
\t\tname TEXT NOT NULL,
\t\tapplied_at TIMESTAMP NOT NULL
\t)"""

ZARCHD_MIGRATIONS = """CREATE TABLE IF NOT EXISTS zarchd_migrations (
    id TEXT PRIMARY KEY,
    checksum TEXT NOT NULL,
    duration_ms INTEGER,
    app_version TEXT,
    zarchd_version TEXT,
    applied_at TEXT NOT NULL
)"""

# The archives table before 7zarch-go had migrations (0001's effect).
BASELINE_COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "path",
    "size",
    "created",
    "checksum",
    "profile",
    "uploaded",
    "destination",
    "uploaded_at",
    "metadata",
)

ARCHIVES_BASELINE = """CREATE TABLE archives (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT UNIQUE NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    created TIMESTAMP NOT NULL,
    checksum TEXT,
    profile TEXT,
    uploaded BOOLEAN DEFAULT FALSE,
    destination TEXT,
    uploaded_at TIMESTAMP,
    metadata TEXT
)"""

# The current shape, as 7zarch-go creates it on a fresh install (the fixture's table).
ARCHIVES_CURRENT = """CREATE TABLE IF NOT EXISTS archives (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uid TEXT UNIQUE,
    name TEXT UNIQUE NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    created TIMESTAMP NOT NULL,
    checksum TEXT,
    profile TEXT,
    managed BOOLEAN DEFAULT FALSE,
    status TEXT NOT NULL DEFAULT 'present',
    last_seen TIMESTAMP,
    deleted_at TIMESTAMP,
    original_path TEXT,
    uploaded BOOLEAN DEFAULT FALSE,
    destination TEXT,
    uploaded_at TIMESTAMP,
    metadata TEXT
)"""

BASELINE_INDEXES = (
    "CREATE INDEX IF NOT EXISTS idx_archives_created ON archives(created)",
    "CREATE INDEX IF NOT EXISTS idx_archives_uploaded ON archives(uploaded)",
    "CREATE INDEX IF NOT EXISTS idx_archives_destination ON archives(destination)",
)

IDENTITY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("uid", "TEXT"),  # ADD COLUMN cannot add UNIQUE: the unique index below enforces it
    ("managed", "BOOLEAN DEFAULT FALSE"),
    ("status", "TEXT NOT NULL DEFAULT 'present'"),
    ("last_seen", "TIMESTAMP"),
)
IDENTITY_INDEXES = (
    "CREATE INDEX IF NOT EXISTS idx_archives_checksum ON archives(checksum)",
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_archives_uid ON archives(uid)",
)

TRASH_COLUMNS: tuple[tuple[str, str], ...] = (
    ("deleted_at", "TIMESTAMP"),
    ("original_path", "TEXT"),
)

QUERIES = """CREATE TABLE IF NOT EXISTS queries (
    name TEXT PRIMARY KEY,
    filters TEXT NOT NULL,
    created INTEGER NOT NULL,
    last_used INTEGER,
    use_count INTEGER DEFAULT 0
)"""

SEARCH_INDEX = """CREATE TABLE IF NOT EXISTS search_index (
    term TEXT,
    archive_uid TEXT,
    field TEXT,
    PRIMARY KEY (term, archive_uid, field)
)"""
SEARCH_INDEX_TERM = "CREATE INDEX IF NOT EXISTS idx_search_term ON search_index(term)"

# Columns 7zarch-go scans into plain Go strings and bools: a NULL there makes `list`, `show` and
# `delete` fail ("converting NULL to string is unsupported"). For new rows it writes '' and
# FALSE itself, so an upgrade gives existing rows the same; NULL meant "none" there, as '' does.
GO_TEXT_BASELINE = ("checksum", "profile", "destination", "metadata")
GO_BOOL_BASELINE = ("uploaded",)
GO_TEXT_TRASH = ("original_path",)
GO_BOOL_IDENTITY = ("managed",)


def fill_nulls_sql(text: tuple[str, ...], bools: tuple[str, ...]) -> list[str]:
    """UPDATEs giving NULLs in these archives columns the value 7zarch-go writes for new rows."""
    return [f"UPDATE archives SET {c} = '' WHERE {c} IS NULL" for c in text] + [
        f"UPDATE archives SET {c} = 0 WHERE {c} IS NULL" for c in bools
    ]
