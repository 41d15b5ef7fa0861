"""The set-based part of the uid backfill: one UPDATE that gives each row a ULID computed in SQL.

A Python function called once per row costs about 15 us (1M rows: 15 s); SQLite's own string
functions do the same in well under 1 us. The SQL handles the `created` layouts 7zarch-go writes
("2006-01-02 15:04:05.999999999-07:00", "...Z", no zone = UTC) and only those whose meaning it
can prove equal to gotime.created_ms (the date survives a round trip through Unix seconds, so
"2023-02-29" is not silently read as March 1st; the zone is Z or +-HH:MM within SQLite's 14 hours).
Anything else (numbers, Go's "+0000 UTC" layout, text that is no time) is left for the Python
maker, as are rows whose prefix would not be unique.

A uid is the row's millisecond in 10 base32 characters, then its rowid modulo 1,024 (2
characters; the rows of one millisecond sharing such a slot are left to the Python maker, so the
12-character prefix 7zarch-go shows is distinct), then 14 random hex digits (56 random bits;
hex digits are Crockford characters, so every uid is a valid 26-character ULID that sorts by the
row's age).
"""

from __future__ import annotations

from zarchd.migrations.gotime import MAX_MS
from zarchd.migrations.ulid import ALPHABET

PROGRESS_FUNCTION = "zarchd_uid_progress"
MS_TABLE = "temp.zarchd_uid_ms"  # rowid -> its prefix's number, for the rows SQL can read
TAKEN_TABLE = "temp.zarchd_uid_taken"  # prefixes rows already had (only made when there are any)

_NO_UID = "(uid IS NULL OR uid = '')"
_SHAPE = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9]*"
_SLOT = "((rid % 1024) + 1024) % 1024"  # the row's place in its millisecond (rowids may be < 0)


# Every triple of base32 characters, in order, as a BLOB: one substr() gives 15 bits of a uid
# (four give the 12-character prefix; pairs took six, and their concatenations, 0.25 s more at
# 1M rows). A BLOB because substr() of TEXT walks the string from its start to count
# characters (on a 2,048-character literal that was 16 s for 1M rows); of a BLOB it indexes
# bytes. Only used on a UTF-8 database, where those bytes concatenate to the same text.
_TRIPLES = (
    "X'"
    + "".join(a + b + c for a in ALPHABET for b in ALPHABET for c in ALPHABET).encode().hex()
    + "'"
)


def _triples(value: str, count: int) -> str:
    """`3 * count` base32 characters of the integer expression `value`, most significant
    first."""
    return " || ".join(
        f"substr({_TRIPLES}, ((({value}) >> {15 * (count - 1 - k)}) % 32768) * 3 + 1, 3)"
        for k in range(count)
    )


# The prefix encodes the 60-bit number `num` = ms * 1024 + slot: 10 characters of time, 2 of
# slot. The temp table keeps `num` itself, computed once per row: kept as ms, the UPDATE
# computed it four times a row and the clash index once more (0.2 s at 1M rows).
PREFIX = _triples("num", 4)
_Q = MS_TABLE.split(".")[1] + "."
_PREFIX_Q = _triples(f"{_Q}num", 4)

# 1. Each readable row's millisecond, once (one scan in rowid order). Layouts: no zone (UTC),
# "Z" or "+-HH:MM", an optional fraction of any length (its first 3 digits are the ms, as
# created_ms truncates). Days past the 28th and hour 24 must survive a round trip through Unix
# seconds (datetime() alone echoes "2023-02-29" back; Python refuses it).
# The table's CHECK keeps a millisecond out of ULID range out (INSERT OR IGNORE skips the row, as
# a NULL from unixepoch() is skipped by NOT NULL): a WHERE on the computed `ms` evaluated the
# whole expression twice. `num` is in range exactly when its millisecond is (0 <= slot < 1024).
CREATE_MS = f"""
CREATE TABLE {MS_TABLE} (
    rid INTEGER PRIMARY KEY,
    num INTEGER NOT NULL CHECK (num BETWEEN 0 AND {MAX_MS * 1024 + 1023})
)
"""
# `parts` is MATERIALIZED: flattened into the outer query, each use of `zone`, `rest` and `head`
# re-evaluated its CASE and substr() (about a third of this statement's time at 1M rows). As a
# co-routine (OFFSET 0) the SELECT alone was 0.1 s faster, but the INSERT of its rows 0.15 s
# slower (1M rows). The zone is told by the last characters: a GLOB starting with '*' tries
# every position (this statement 10 % faster on 7zarch-go's "...-07:00" layout, 300k rows).
FILL_MS = f"""
INSERT OR IGNORE INTO {MS_TABLE} (rid, num)
WITH parts AS MATERIALIZED (
    SELECT rowid AS rid, substr(created, 1, 19) AS head, substr(created, 20) AS rest,
           CASE WHEN length(created) = 19 THEN ''
                WHEN substr(created, -6, 1) IN ('+', '-')
                     AND substr(created, -5) GLOB '[0-9][0-9]:[0-9][0-9]'
                     THEN substr(created, -6)
                WHEN substr(created, -1) = 'Z' THEN 'Z'
                WHEN substr(created, -1) GLOB '[0-9]' THEN '' END AS zone
    FROM archives
    WHERE {_NO_UID} AND typeof(created) = 'text' AND created GLOB '{_SHAPE}'
)
SELECT rid,
       (unixepoch(head || zone) * 1000
        + CASE WHEN rest = zone THEN 0
               -- the fraction's digits (zone cut off), padded: ".5Z" is 500 ms, not 5
               ELSE CAST(substr(substr(rest, 2, length(rest) - 1 - length(zone)) || '000',
                                1, 3) AS INTEGER) END) * 1024 + {_SLOT}
FROM parts
WHERE zone IS NOT NULL
  AND (rest = zone
       OR (rest GLOB '.[0-9]*'
           AND NOT substr(rest, 2, length(rest) - 1 - length(zone)) GLOB '*[^0-9]*'))
  AND ((substr(head, 9, 2) <= '28' AND substr(head, 12, 2) < '24')
       OR datetime(unixepoch(head), 'unixepoch') = replace(head, 'T', ' '))
"""

# 2. Rows whose 12-character prefix would not be unique are left to the Python maker: two rows
# of one millisecond in the same slot (rowids 1,024 apart), or a prefix a row already has.
# Usually there is no clash at all: a unique index proves it with one sort (SQLite's index
# builder, about a fifth cheaper at 1M rows than the GROUP BY below); only when it cannot be
# built does DROP_CLASHES find and drop the clashing rows.
NO_CLASHES = f"CREATE UNIQUE INDEX {MS_TABLE}_num ON {MS_TABLE.split('.')[1]} (num)"
DROP_CLASHES = f"""
DELETE FROM {MS_TABLE} WHERE num IN (
    SELECT num FROM {MS_TABLE} GROUP BY num HAVING count(*) > 1
)
"""
CREATE_TAKEN = f"CREATE TABLE {TAKEN_TABLE} (prefix TEXT PRIMARY KEY) WITHOUT ROWID"
DROP_TAKEN_CLASHES = f"DELETE FROM {MS_TABLE} WHERE {PREFIX} IN (SELECT prefix FROM {TAKEN_TABLE})"


def update_sql(report_every: int, also: tuple[str, ...] = ()) -> str:
    """3. The UPDATE, walking archives in rowid order (each page written once: the IN list is
    the temp table's own rowid order, so the planner does not walk archives through its
    smallest index, the name's, which wrote the rows in name order, all over the table; 2.4x
    slower on 300k rows whose names are not in rowid order). Each row's prefix comes from a
    correlated lookup in the temp table by rowid: an `UPDATE ... FROM` join first copied all
    1M joined rows into a table of its own (0.5 s at 1M rows). It calls PROGRESS_FUNCTION()
    for about one row in `report_every` (those whose rowid is a multiple).
    `also`: more SET assignments for the same rows (0002's NULL fills, see fills.py)."""
    more = "".join(f",\n    {a}" for a in also)
    # Every name of the temp table qualified: archives may have columns called `num` or `rid`.
    return f"""
UPDATE archives
SET uid = (SELECT {_PREFIX_Q}
                  || CASE WHEN {_Q}rid % {report_every} = 0 THEN {PROGRESS_FUNCTION}() ELSE '' END
           FROM {MS_TABLE} WHERE {_Q}rid = archives.rowid)
          || hex(randomblob(7)){more}
WHERE archives.rowid IN (SELECT {_Q}rid FROM {MS_TABLE})
"""


CLEAN_UP = (f"DROP TABLE IF EXISTS {MS_TABLE}", f"DROP TABLE IF EXISTS {TAKEN_TABLE}")
