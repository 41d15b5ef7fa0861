"""zarchctl's start-up: status, health and ping never import Typer (cli/ctl_entry.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _imports(
    args: list[str], env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """`zarchctl ARGS` through the fast path under `-X importtime`: its result and the modules
    it imported."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "zarchd.cli.ctl_entry", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    return proc, imported


def _env(home: Path) -> dict[str, str]:
    # Not under coverage either (CI measures subprocesses): coverage itself imports sqlite3.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZARCH_", "COVERAGE_"))}
    env["HOME"] = str(home)
    return env


def test_ping_through_the_fast_path_imports_no_typer(tmp_path: Path) -> None:
    proc, imported = _imports(["ping", "--socket", str(tmp_path / "none.sock")], _env(tmp_path))
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert "zarchd.control.client" in imported  # the measurement saw the path's own imports
    assert not {m for m in imported if m.split(".")[0] in ("typer", "click", "rich")}
    assert "zarchd.app.operations" not in imported and "sqlite3" not in imported
    assert "ctypes" not in imported  # macOS-only code (control/peercred.py) loads it late


# What listing and pruning never use: the backup, restore, recover and verify code, the migration
# runner and catalog, the remote code and the processes and threads those start (issue 16).
NOT_FOR_LISTING = (
    "zarchd.backups.take",
    "zarchd.backups.restore",
    "zarchd.backups.recover",
    "zarchd.backups.verify",
    "zarchd.backups.files",
    "zarchd.migrations.runner",
    "zarchd.migrations.builtins",
    "zarchd.app.remote_restore",
    "zarchd.app.remote_view",
    "zarchd.remote.target",
    "subprocess",
    "concurrent.futures",
)


def test_listing_and_dry_run_prune_import_only_what_they_use(
    tmp_path: Path, registry_0005: Path
) -> None:
    env = _env(tmp_path)
    env["ZARCH_REGISTRY"] = str(registry_0005)
    for args in (["backups", "--local"], ["prune", "--dry-run", "--local"]):
        proc, imported = _imports(args, env)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "zarchd.backups.listing" in imported  # the measurement saw the path's own imports
        assert not imported & set(NOT_FOR_LISTING), args


def test_lazy_package_names_are_the_functions_whatever_is_imported_first() -> None:
    # `prune` is a function of the package and the name of its submodule: importing the
    # submodule first must not leave `zarchd.backups.prune` the module (a fresh interpreter).
    code = (
        "import importlib\n"
        "m = importlib.import_module('zarchd.backups.prune')\n"
        "import zarchd.backups as b, zarchd.migrations as mg\n"
        "from zarchd.backups import take_backup, prune\n"
        "from zarchd.migrations import drift, migrate\n"
        "assert b.prune is m.prune is prune and callable(prune), b.prune\n"
        "assert drift.__name__ == 'zarchd.migrations.drift' and callable(migrate)\n"
        "assert b.take_backup is take_backup and sorted(b.__all__) == sorted(set(b.__all__))\n"
        "for name in b.__all__ + mg.__all__: assert getattr(b if name in b.__all__ else mg, name)\n"
        "try:\n    b.nothing\nexcept AttributeError:\n    pass\nelse:\n    raise SystemExit(1)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_a_finished_listing_ends_without_teardown_but_runs_atexit(
    tmp_path: Path, registry_0005: Path
) -> None:
    # The process ends by os._exit after a read-only fast-path command: a module global's
    # __del__ (the teardown) never runs, the atexit handlers (logging, coverage) still do, and
    # every line written is there (flushed first).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZARCH_", "COVERAGE_"))}
    env.update(HOME=str(tmp_path), ZARCH_REGISTRY=str(registry_0005))
    code = (
        "import atexit, os, sys\n"
        "class Teardown:\n"
        "    def __del__(self, write=os.write):\n"
        "        write(2, b'torn down\\n')\n"
        "sys.witness = Teardown()  # not in a cycle: freed by the teardown, if there is one\n"
        "atexit.register(lambda: sys.stderr.write('atexit ran\\n'))\n"
        "sys.argv = ['zarchctl', *sys.argv[1:]]\n"
        "from zarchd.cli.ctl_entry import main\n"
        "main()\n"
    )
    for args in (["backups", "--local"], ["--json", "prune", "--dry-run", "--local"]):
        proc = subprocess.run(
            [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert proc.stderr == "atexit ran\n", args
        assert proc.stdout.endswith("\n") and proc.stdout.strip(), args
    proc = subprocess.run(  # a command that writes keeps the ordinary exit
        [sys.executable, "-c", code, "prune", "--local"], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0 and proc.stderr.endswith("torn down\n"), proc.stderr[-2000:]
