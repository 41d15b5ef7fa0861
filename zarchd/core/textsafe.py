"""Show untrusted text (paths, names, file content) on a terminal or in a log without letting it
act: control characters become visible escapes (`\\n`, `\\x1b`), so a file name cannot add fake
lines, move the cursor or recolour the screen. JSON output never goes through here: it stays
exact."""

from __future__ import annotations

import unicodedata
from typing import Any

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Format characters that reorder or hide text (bidi overrides, isolates, line separators).
_INVISIBLE = {
    "\u2028",
    "\u2029",
    "\u200e",
    "\u200f",
    *map(chr, range(0x202A, 0x202F)),
    *map(chr, range(0x2066, 0x206A)),
}


def _escape_char(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _unsafe(ch: str, keep_newlines: bool) -> bool:
    if ch == "\n" and keep_newlines:
        return False
    # Cc: C0/DEL/C1 controls; Cs: lone surrogates from undecodable file names.
    return unicodedata.category(ch) in ("Cc", "Cs") or ch in _INVISIBLE


def escape_controls(text: str, *, keep_newlines: bool = False) -> str:
    """`text` with every control character shown as an escape; newlines kept if asked (for
    zarchd's own multi-line messages, whose other parts may still carry a hostile path)."""
    if text.isprintable():
        return text  # the common case, fast
    return "".join(_escape_char(ch) if _unsafe(ch, keep_newlines) else ch for ch in text)


def escape_all(value: Any) -> Any:
    """A copy of a JSON-like value with every string (keys too) passed through escape_controls."""
    if isinstance(value, str):
        return escape_controls(value)
    if isinstance(value, dict):
        return _escape_dict(value)
    if isinstance(value, (list, tuple)):
        return [_escape_item(v) for v in value]
    return value


_PLAIN = (int, float, bool, type(None))


def _escape_item(value: Any) -> Any:
    # escape_all for one item, without a call for the common leaves: listing 10,000 backups is
    # ~100,000 printable strings and scalars (issue 16). Same result as escape_all(value).
    kind = type(value)
    if kind is str and value.isprintable():
        return value
    if kind in _PLAIN:
        return value
    return escape_all(value)


def _escape_dict(value: dict[Any, Any]) -> dict[Any, Any]:
    # One loop, no call per printable key or leaf (a listed backup is a dict of ten).
    out = {}
    for key, item in value.items():
        if type(key) is not str or not key.isprintable():
            key = escape_all(key)
        kind = type(item)
        if kind is str:
            if not item.isprintable():
                item = escape_controls(item)
        elif kind not in _PLAIN:
            item = escape_all(item)
        out[key] = item
    return out
