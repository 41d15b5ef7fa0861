"""Service units: render (pure), where they go, install/uninstall via systemctl/launchctl."""

from __future__ import annotations

from .install import install, is_zarchd_unit, uninstall
from .locations import current_platform, unit_path
from .render import LABEL, render
from .spec import ServiceSpec, find_command, spec_from_config

__all__ = [
    "LABEL", "ServiceSpec", "current_platform", "find_command", "install", "is_zarchd_unit",
    "render", "spec_from_config", "uninstall", "unit_path",
]
