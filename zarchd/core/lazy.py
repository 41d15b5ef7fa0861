"""Names of a package imported on first use (PEP 562), so a command that needs little of it
starts fast (`zarchctl backups` of 10,000 backups: issue 16)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_attributes(
    package: str, table: dict[str, str], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """A module `__getattr__` for `package`: `table` maps each name to the module defining it;
    the name is kept in `namespace` (the package's globals) once looked up."""

    def getattr_(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # once: later lookups are plain attribute reads
        return value

    return getattr_
