"""The layers of docs/ARCHITECTURE.md, held against the code's imports: each package imports only
the packages listed for it (lower layers), so the folders keep telling the truth."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "zarchd"

# What each package may import from zarchd (besides itself and `zarchd.__version__`).
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "db": {"core"},
    "migrations": {"core", "db"},
    "backups": {"core", "db", "migrations"},  # one way: a backup's schema version, by one rule
    "remote": {"core", "db", "backups"},  # off-site copies: rclone, beside backups/
    "app": {"core", "db", "backups", "migrations", "remote"},
    "control": {"core", "app"},  # the command table: params, timeouts
    "daemon": {"core", "db", "app", "control"},  # never backups or migrations: through app
    "cli": {"core", "db", "app", "control", "daemon", "service"},
    "service": {"core"},
}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("zarchd"):
            parts = node.module.split(".")
            if len(parts) > 1:
                found.add(parts[1])
            else:  # from zarchd import X
                found.update(a.name for a in node.names if a.name != "__version__")
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("zarchd."))
    return found


def test_every_package_imports_only_its_lower_layers() -> None:
    wrong = []
    for package, allowed in ALLOWED.items():
        for path in sorted((PACKAGE / package).rglob("*.py")):
            for target in _imports(path) - allowed - {package}:
                wrong.append(f"{path.relative_to(PACKAGE.parent)} imports zarchd.{target}")
    assert wrong == []


def test_every_package_is_in_the_layer_table() -> None:
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert packages == set(ALLOWED)


def test_the_readme_layout_lists_every_module() -> None:
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    layout = readme[readme.index("## Layout") :]
    layout = layout[: layout.index("\n## ", 1)] if "\n## " in layout[1:] else layout
    missing = [
        str(path.relative_to(PACKAGE))
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name not in ("__init__.py", "__main__.py") and f" {path.name} " not in layout
    ]
    assert missing == []
