"""The reference units kept in the repository (systemd/, launchd/), rendered for a generic install.

    python -m zarchd.service.generic [REPO_DIR]    # rewrite them after changing the templates

- systemd/zarchd.service: user unit for `pipx install` / `pip install --user`: zarchd in
  ~/.local/bin, registry in ~/.7zarch-go, default config; paths written with %h.
- systemd/zarchd-system.service: system unit, to be installed as /etc/systemd/system/zarchd.service;
  zarchd in /usr/local/bin, user `zarchd`, registry /var/lib/7zarch-go/registry.db.
- launchd/com.zarchd.zarchd.plist: user agent with zarchd in /usr/local/bin; replace /Users/you.
"""

from __future__ import annotations

import sys
from pathlib import Path

from zarchd.service.render import LABEL, render
from zarchd.service.spec import ServiceSpec

_HOME = Path("/home/you")
_MAC_HOME = Path("/Users/you")


def generic_specs() -> dict[str, ServiceSpec]:
    """Repository-relative file name -> the spec it is rendered from."""
    return {
        "systemd/zarchd.service": ServiceSpec(
            platform="linux",
            scope="user",
            command=(str(_HOME / ".local/bin/zarchd"),),
            writable=(_HOME / ".7zarch-go", _HOME / ".local/state/zarchd"),
            home=_HOME,
        ),
        "systemd/zarchd-system.service": ServiceSpec(
            platform="linux",
            scope="system",
            command=("/usr/local/bin/zarchd",),
            writable=(Path("/var/lib/7zarch-go"),),
            environment=(("ZARCH_REGISTRY", "/var/lib/7zarch-go/registry.db"),),
        ),
        f"launchd/{LABEL}.plist": ServiceSpec(
            platform="macos",
            scope="user",
            command=("/usr/local/bin/zarchd",),
            log_dir=_MAC_HOME / "Library/Logs/zarchd",
        ),
    }


def generic_files() -> dict[str, str]:
    return {name: render(spec) for name, spec in generic_specs().items()}


def main(argv: list[str]) -> int:
    repo = Path(argv[0]) if argv else Path.cwd()
    for name, text in generic_files().items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text, encoding="utf-8")
        print(f"wrote {repo / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
