"""Statement splitting and checksum normalisation."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zarchd.migrations.sqltext import (
    IncompleteSQL,
    checksum,
    first_keyword,
    has_code,
    split_statements,
)

TRICKY = [
    "SELECT 'a;b'",
    "SELECT 1 /* ; inside a block comment */ + 1",
    'CREATE TABLE "we;ird" (a)',
    "INSERT INTO x VALUES ('it''s; fine')",
    "CREATE TRIGGER t1 AFTER INSERT ON x BEGIN INSERT INTO y VALUES (';'); UPDATE y SET a = 1; END",
    "SELECT 2 -- a trailing comment; with a semicolon\n + 3",
]

literal = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
).map(lambda s: "'" + s.replace("'", "''") + "'")
statement = st.one_of(
    st.sampled_from(TRICKY),
    literal.map(lambda lit: f"SELECT {lit}"),
    literal.map(lambda lit: f"INSERT INTO x VALUES ({lit})"),
)
separator = st.sampled_from([";", ";\n", ";\n\n", "; -- done;\n", ";/* ; */\n", "  ;  \n"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(statement, separator), min_size=1, max_size=6))
def test_split_returns_each_statement_whole(parts: list[tuple[str, str]]) -> None:
    script = "".join(stmt + sep for stmt, sep in parts)
    pieces = [piece[:-1].rstrip() + ";" for piece in split_statements(script)]
    assert pieces == [stmt + ";" for stmt, _ in parts]


@settings(max_examples=100, deadline=None)
@given(st.lists(statement, min_size=1, max_size=5))
def test_every_piece_runs_alone_in_sqlite(stmts: list[str]) -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE x (a)")
    conn.execute("CREATE TABLE y (a)")
    conn.execute('CREATE TABLE "we;ird_" (a)')
    script = ";\n".join(s.replace('"we;ird"', '"we;ird2"') for s in stmts)
    for piece in split_statements(script):
        try:
            conn.execute(piece)  # raises "one statement at a time" if the split were wrong
        except sqlite3.OperationalError as exc:
            assert "already exists" in str(exc)  # the same CREATE twice is fine here


def test_last_statement_without_semicolon_and_comment_only_parts() -> None:
    assert split_statements("-- only a comment\n") == []
    assert split_statements("SELECT 1;\n-- end\n/* also */") == ["SELECT 1;"]
    assert split_statements("SELECT 1;\nSELECT 2") == ["SELECT 1;", "SELECT 2;"]


def test_unterminated_text_is_an_error() -> None:
    with pytest.raises(IncompleteSQL):
        split_statements("SELECT 'never closed;")
    with pytest.raises(IncompleteSQL):
        split_statements("CREATE TRIGGER t AFTER INSERT ON x BEGIN SELECT 1;")


def test_first_keyword_and_has_code() -> None:
    assert first_keyword("-- c\n/* d */  begin transaction;") == "BEGIN"
    assert first_keyword("-- nothing") == ""
    assert not has_code(" ;\n-- x\n/* y */ ;")
    assert has_code("/* y */ x")


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.text(alphabet="abc ;'-\t", max_size=20), max_size=6),
    st.sampled_from(["\r\n", "\n", "\r"]),
    st.sampled_from(["", " ", "\t  "]),
)
def test_checksum_ignores_line_endings_and_trailing_space(
    lines: list[str], eol: str, pad: str
) -> None:
    plain = "\n".join(line.rstrip() for line in lines) + "\n"
    cosmetic = eol.join(line + pad for line in lines) + eol + eol
    assert checksum(plain) == checksum(cosmetic)


def test_checksum_sees_real_changes() -> None:
    assert checksum("SELECT 1;\n") != checksum("SELECT 2;\n")
    assert checksum("SELECT  1;\n") != checksum("SELECT 1;\n")  # inner spaces count
