"""The version that decides when to migrate: zarchd's own plus the application's version file."""

from __future__ import annotations

from pathlib import Path

from zarchd import __version__


def app_version(version_file: Path | None) -> str:
    """'0.1.0' or '0.1.0+<file content>'; an unreadable or missing file counts as absent."""
    if version_file is None:
        return __version__
    try:
        text = version_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return __version__
    return f"{__version__}+{text}" if text else __version__
