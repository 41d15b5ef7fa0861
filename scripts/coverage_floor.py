"""Fail when coverage (the tests' zarchd/zarchctl subprocesses included) is under its floor.

    python scripts/coverage_floor.py [COVERAGE_JSON]

Reads the JSON report pytest-cov wrote (`--cov-report=json:PATH`, default `coverage.json`):
the total must be at least TOTAL_FLOOR percent, and each module where data loss hides (the
backups and migrations packages, the daemon, the operations) at least MODULE_FLOOR. Prints the
modules under watch, lowest first, and every one under its floor.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

TOTAL_FLOOR = 90.0
MODULE_FLOOR = 85.0
WATCHED = (
    "zarchd/backups/",
    "zarchd/migrations/",
    "zarchd/daemon/daemon.py",
    "zarchd/app/operations.py",
)


def check(report: dict[str, object]) -> list[str]:
    """The floors broken, one line each (empty when all hold)."""
    files = report["files"]
    totals = report["totals"]
    assert isinstance(files, dict) and isinstance(totals, dict)
    problems = []
    total = float(totals["percent_covered"])
    if total < TOTAL_FLOOR:
        problems.append(f"total coverage {total:.1f}% is under {TOTAL_FLOOR:.0f}%")
    watched = sorted(
        (float(data["summary"]["percent_covered"]), name)
        for name, data in files.items()
        if name.startswith(WATCHED) and not name.endswith("__init__.py")
    )
    for percent, name in watched:
        print(f"  {percent:5.1f}%  {name}")
        if percent < MODULE_FLOOR:
            problems.append(f"{name}: {percent:.1f}% is under {MODULE_FLOOR:.0f}%")
    floors = f"{TOTAL_FLOOR:.0f}% total, {MODULE_FLOOR:.0f}% per module above"
    print(f"total {total:.1f}% (floors: {floors})")
    return problems


def main(argv: list[str]) -> int:
    path = Path(argv[0] if argv else "coverage.json")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"coverage_floor: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    problems = check(report)
    for line in problems:
        print(f"coverage_floor: {line}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
