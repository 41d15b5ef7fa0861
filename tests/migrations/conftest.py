"""Helpers for the migration engine tests: app migration files, file hashes, schema dumps."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

FIXTURE_IDS = [
    "0001_baseline",
    "0002_identity_and_status",
    "0003_trash_fields",
    "0004_query_system",
    "0005_search_index",
]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dump(path: Path) -> list[str]:
    """Schema and content of the database, as SQL text (read-only)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def query(path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def columns(path: Path, table: str) -> list[str]:
    return [r[1] for r in query(path, f"PRAGMA table_info({table})")]


def recorded(path: Path) -> list[str]:
    return [r[0] for r in query(path, "SELECT id FROM schema_migrations ORDER BY id")]


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    d = tmp_path / "app-migrations"
    d.mkdir()
    return d


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


def execute(path: Path, sql: str, params: tuple = ()) -> None:
    """Run one statement and commit."""
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.execute(sql, params)
    finally:
        conn.close()
