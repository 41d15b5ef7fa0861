"""The committed man pages are what scripts/manpages.py makes from today's help text."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("manpages", ROOT / "scripts" / "manpages.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["manpages"] = module
    spec.loader.exec_module(module)
    return module


def test_the_committed_man_pages_are_up_to_date() -> None:
    pages = _script().pages()
    assert set(pages) == {ROOT / "man" / "zarchctl.1", ROOT / "man" / "zarchd.1"}
    for path, text in pages.items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} is out of date: run python scripts/manpages.py"
        )


def test_the_pages_carry_every_command_with_its_examples_and_exit_status() -> None:
    from zarchd.cli.helptext import ZARCHCTL

    page = (ROOT / "man" / "zarchctl.1").read_text(encoding="utf-8")
    for name, entry in ZARCHCTL.items():
        assert f".SS {name}" in page, name
        for line, _ in entry.examples:
            assert line.replace("-", "\\-") in page, line
    assert page.count("Exit status:") == len(ZARCHCTL)
