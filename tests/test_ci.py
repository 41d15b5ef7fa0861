"""The README's test command is the one CI runs: a reader who runs it sees what CI sees."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _command(text: str) -> str:
    found = [line for line in text.splitlines() if re.match(r"python3 -m venv .*pytest", line)]
    assert len(found) == 1, found
    return found[0]


def test_ci_runs_the_readme_test_command_with_lint_and_types() -> None:
    readme = _command((ROOT / "README.md").read_text(encoding="utf-8"))
    ci = _command((ROOT / ".ci" / "run").read_text(encoding="utf-8"))
    assert ci == readme
    assert "'.[test,dev]'" in ci
    assert ci.index("ruff check") < ci.index("pytest") and ci.index("mypy") < ci.index("pytest")
