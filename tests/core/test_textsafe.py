"""escape_all: every string of a nested result escaped, keys too, at any depth (its per-item
fast path for printable strings and scalars must not let a control character through)."""

from __future__ import annotations

from zarchd.core.textsafe import escape_all


class Name(str):
    """A str subclass: not the plain type the fast path recognises."""


def test_escape_all_reaches_every_string_at_every_depth() -> None:
    value = {
        "plain": "ok",
        "bad\x1bkey": 1,
        "items": [{"name": "a\nb", "n": 2.5, "ok": True, "none": None}, ("c\u202ed", 3)],
        "sub": Name("e\rf"),
        "deep": {"x": [["g\x00h"]]},
    }
    assert escape_all(value) == {
        "plain": "ok",
        "bad\\x1bkey": 1,
        "items": [{"name": "a\\nb", "n": 2.5, "ok": True, "none": None}, ["c\\u202ed", 3]],
        "sub": "e\\rf",
        "deep": {"x": [["g\\x00h"]]},
    }


def test_escape_all_copies_and_leaves_the_input_alone() -> None:
    value = {"a": ["x\ty"]}
    out = escape_all(value)
    assert out == {"a": ["x\\ty"]} and value == {"a": ["x\ty"]}
    assert escape_all("z\x7f") == "z\\x7f" and escape_all(7) == 7
