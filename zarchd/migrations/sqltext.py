"""SQL text handling: split a script into single statements, normalise text for checksums.

Statements must run one by one inside our own transaction: `executescript()` would COMMIT
first. `sqlite3.complete_statement` knows SQLite's lexer (strings, quoted names, comments,
CREATE TRIGGER ... BEGIN ... END), so a ';' only ends a statement where SQLite says it does.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3


class IncompleteSQL(ValueError):
    """The text ends inside a statement (unterminated string, comment or trigger body)."""


def split_statements(sql: str) -> list[str]:
    """The statements of `sql`, each stripped and ending with ';'; comment-only parts dropped."""
    statements: list[str] = []
    start = 0
    for pos, char in enumerate(sql):
        if char != ";":
            continue
        candidate = sql[start : pos + 1]
        if sqlite3.complete_statement(candidate):
            code = _code_start(candidate)
            if code >= 0:  # leading comments and blank lines are dropped
                statements.append(candidate[code:].strip())
            start = pos + 1
    rest = sql[start:]
    code = _code_start(rest)
    if code >= 0:
        if not sqlite3.complete_statement(rest + "\n;"):
            raise IncompleteSQL(f"incomplete SQL statement at the end: {rest[code:][:80]!r}")
        statements.append(rest[code:].strip() + ";")
    return statements


def has_code(text: str) -> bool:
    """True when `text` holds more than whitespace, comments and semicolons."""
    return _code_start(text) >= 0


def _code_start(text: str) -> int:
    """Index of the first character that is not whitespace, a comment or ';' (-1: none)."""
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace() or text[i] == ";":
            i += 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            return i
    return -1


_FIRST_WORD = re.compile(r"[A-Za-z]+")


def first_keyword(statement: str) -> str:
    """The statement's first keyword, upper-case, after leading comments ('' if none)."""
    start = _code_start(statement)
    match = _FIRST_WORD.match(statement, start) if start >= 0 else None
    return match.group(0).upper() if match else ""


def normalise(text: str) -> str:
    """Line endings to LF, trailing whitespace and trailing blank lines dropped, BOM dropped:
    cosmetic edits must not count as a changed migration."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n") + "\n"


def checksum(text: str) -> str:
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()
