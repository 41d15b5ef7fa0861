"""`zarchctl backups --local` and `prune --dry-run --local`: text straight from the records.

Through the daemon the listing arrives as JSON and cli/render.py turns it into text. In this
process the records are at hand: going through JSON made each created_at an ISO string only to
parse it back, and built a dict per backup (~4 us a backup, 40 ms of 10,000; issue 16). The
text is byte for byte render.backups' of the same listing's JSON (tests/cli/test_records_text.py):
the same table (render.backups_table), the same escaping of whatever a directory can hold.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from zarchd.cli import render, timefmt
from zarchd.core.textsafe import escape_all

if TYPE_CHECKING:  # annotations only: the runner imports this module on status' path too

    class BackupRecord(Protocol):
        """What the text reads of a listed backup (backups.meta.BackupInfo; cli/ never imports the
        backups layer, docs/ARCHITECTURE.md)."""

        @property
        def name(self) -> str: ...
        @property
        def created_at(self) -> datetime: ...  # aware
        @property
        def size_bytes(self) -> int: ...
        @property
        def verified(self) -> bool | None: ...
        @property
        def schema_version(self) -> str | None: ...
        @property
        def untrusted(self) -> bool: ...
        @property
        def check(self) -> str | None: ...

    class DecisionRecord(Protocol):
        """What the text reads of a retention decision (backups.retention.Decision)."""

        @property
        def name(self) -> str: ...
        @property
        def keep(self) -> bool: ...
        @property
        def reasons(self) -> list[str]: ...


class Text(str):
    """A command's finished text: the runner prints it as it is."""


def backups_text(where: str, items: Sequence[BackupRecord], ignored: list[dict[str, str]]) -> Text:
    lines = render.ignored_lines(ignored)
    if not items:
        return Text("\n".join([f"no backups in {escape_all(where)}", *lines]))
    names = render.escaped([b.name for b in items])
    schemas = [schema or "-" for schema in render.escaped([b.schema_version for b in items])]
    wall, size, verified_text = timefmt.machine_wall_text, _sizes(), render.VERIFIED
    cells = []
    for b in items:
        check = b.check
        if check is not None and not check.isprintable():  # ours are "quick" or "integrity"
            check = escape_all(check)
        state = "UNTRUSTED" if b.untrusted else verified_text[b.verified]
        # created_at is aware: the local time iso() and parse_iso() would give, to the second
        cells.append((wall(b.created_at), size(b.size_bytes), state, check or "-"))
    return Text(render.backups_table(names, schemas, cells, lines))


def prune_dry_run_text(
    ordered: Sequence[DecisionRecord], by_name: Mapping[str, BackupRecord], freed: int
) -> Text:
    """`prune --dry-run`'s text: `ordered` the decisions in listing order, `by_name` the listed
    backups, `freed` the bytes deleting would free (app/prunesummary.py makes all three)."""
    if not ordered:
        return Text("no backups made by zarchd to consider")
    names = render.escaped([d.name for d in ordered])
    wall, size, escaped = timefmt.machine_wall_text, _sizes(), render.escaped
    cells = []
    for d in ordered:
        info = by_name.get(d.name)
        created = shown = "-"
        if info is not None:  # the created text of its iso() time, as render.prune's
            created, shown = wall(info.created_at), size(info.size_bytes)
        verdict = "keep" if d.keep else "delete"
        reasons = d.reasons
        if len(reasons) == 1 and type(reasons[0]) is str and reasons[0].isprintable():
            why = reasons[0]  # most rows: "no rule keeps it", as the join below gives it
        else:
            why = ", ".join(escaped(list(reasons)))
        cells.append((verdict, created, shown, why))
    dropped = sum(1 for d in ordered if not d.keep)
    return Text(
        render.prune_table(True, names, cells, len(ordered) - dropped, dropped, size(freed))
    )


def _sizes() -> Callable[[int], str]:
    """render.size, each value's text made once: backups of one registry share their sizes
    (SQLite files are whole pages; hard-linked copies are one file), 10,000 calls (issue 16)."""
    known: dict[int, str] = {}

    def size(n: int) -> str:
        text = known.get(n)
        if text is None:
            text = known[n] = render.size(n)
        return text

    return size
