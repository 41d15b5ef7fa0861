"""Service units: render (pure), where they go, install/uninstall via systemctl/launchctl."""

from __future__ import annotations

from zarchd.service.install import install, is_zarchd_unit, uninstall
from zarchd.service.locations import current_platform, unit_path
from zarchd.service.render import LABEL, render
from zarchd.service.spec import ServiceSpec, find_command, spec_from_config

__all__ = [
    "LABEL",
    "ServiceSpec",
    "current_platform",
    "find_command",
    "install",
    "is_zarchd_unit",
    "render",
    "spec_from_config",
    "uninstall",
    "unit_path",
]
