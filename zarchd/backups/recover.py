"""A damaged registry: set it aside (never delete it), put the newest backup that verifies in its
place, or salvage what SQLite's `.recover` can read when no backup verifies."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from ..clock import Clock, utcnow
from ..errors import BackupError, UsageError
from ..fsutil import fsync_dir, fsync_file, publish, temp_path
from ..progress import Progress, no_progress
from ..registry import check_file, quote_ident
from . import files, names
from .listing import list_backups
from .meta import BackupInfo
from .verify import verify_backup

COMPANION_SUFFIXES = ("-wal", "-journal", "-shm")
SALVAGE_TIMEOUT_S = 3600.0


def set_aside(registry: Path, now: Clock) -> Path:
    """Rename registry.db (and its -wal/-journal/-shm under the same new stem, so SQLite still
    opens them together) to `registry.db.corrupted-YYYYMMDD-HHMMSS[-N]`.

    Companions move first: a crash in between leaves registry.db without its WAL, never a bare
    old -wal next to a missing registry.db that SQLite would apply to a new file.
    """
    local = now().astimezone(names.local_tz())
    base = f"{registry.name}.corrupted-{local:%Y%m%d-%H%M%S}"
    for n in range(0, 10_000):
        aside = registry.with_name(base if n == 0 else f"{base}-{n}")
        if not any(os.path.lexists(str(aside) + s) for s in ("",) + COMPANION_SUFFIXES):
            break
    else:
        raise BackupError(f"no free name to set {registry} aside")
    for suffix in COMPANION_SUFFIXES:
        comp = Path(str(registry) + suffix)
        if comp.exists():
            os.rename(comp, str(aside) + suffix)
    os.rename(registry, aside)
    fsync_dir(registry.parent)
    return aside


def install_copy(source: Path, registry: Path, mode: int = 0o600) -> None:
    """Put a copy of `source` at the (absent) registry path: temp copy, fsync, check, link."""
    with temp_path(registry.parent, prefix=f".zarchd-restore-{registry.name}-") as tmp:
        shutil.copyfile(source, tmp)
        fsync_file(tmp)
        problems = files.integrity(tmp)
        if problems != ["ok"]:
            raise BackupError(f"the copy of {source.name} failed its integrity check: {problems[0]}")
        os.chmod(tmp, mode)
        _move_stray_companions(registry)
        try:
            publish(tmp, registry)
        except FileExistsError as exc:
            raise BackupError(f"{registry} appeared while restoring (is 7zarch-go running?); "
                              f"nothing was overwritten, stop it and try again") from exc


def _move_stray_companions(registry: Path) -> None:
    """A -wal/-journal without its database would be applied to the new file: move it aside."""
    for suffix in COMPANION_SUFFIXES:
        comp = Path(str(registry) + suffix)
        if comp.exists():
            n = 0
            while os.path.lexists(target := Path(f"{comp}.stale-{n}")):
                n += 1
            os.rename(comp, target)


def _sound(info: BackupInfo, progress: Progress, now: Clock) -> list[str]:
    if info.ours:
        return verify_backup(info, progress=progress, now=now).problems
    check = files.integrity(info.path)
    return [] if check == ["ok"] else [f"{info.name}: {check[0]}"]


def recover_registry(registry: Path, backup_dir: Path, *, now: Clock = utcnow,
                     progress: Progress = no_progress, force: bool = False) -> dict[str, Any]:
    """Set the damaged registry aside and restore the newest backup that verifies.

    Refuses (UsageError) when the registry passes its integrity check, unless `force`:
    going back to a backup then is `restore NAME`, which keeps a safety backup.
    """
    try:
        return _recover(registry, backup_dir, now, progress, force)
    except OSError as exc:
        raise BackupError(f"recovering {registry} failed: {exc}; nothing was deleted") from exc


def _recover(registry: Path, backup_dir: Path, now: Clock, progress: Progress,
             force: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"registry": str(registry), "corrupted_saved_as": None,
                              "restored": None, "salvaged": None, "skipped": []}
    mode = 0o600
    aside: Path | None = None
    if registry.exists():
        problems = check_file(registry)
        if problems == ["ok"] and not force:
            raise UsageError(f"the registry {registry} passes its integrity check; nothing to "
                             f"recover (use `zarchctl restore NAME` to go back to a backup)")
        mode = registry.stat().st_mode & 0o777
        aside = set_aside(registry, now)
        result["corrupted_saved_as"] = str(aside)
        progress({"stage": "recover", "step": "set_aside", "path": str(aside)})
    for info in reversed(list_backups(registry, backup_dir)):
        problems = _sound(info, progress, now)
        if problems:
            result["skipped"].append({"name": info.name, "problems": problems})
            continue
        install_copy(info.path, registry, mode)
        result["restored"] = info.name
        return result
    sqlite3_bin = shutil.which("sqlite3")
    if aside is not None and sqlite3_bin:
        progress({"stage": "recover", "step": "salvage"})
        result["salvaged"] = salvage(aside, registry, sqlite3_bin, mode)
        if result["salvaged"] is not None:
            return result
    kept = f"the damaged registry was kept at {aside}" if aside else "there was no registry"
    why = "no backup verifies" if result["skipped"] else f"no backups in {backup_dir}"
    tool = "" if sqlite3_bin else "; install the sqlite3 command to salvage what is readable"
    raise BackupError(f"cannot recover {registry}: {why}, salvage did not work{tool}; {kept}")


def salvage(damaged: Path, registry: Path, sqlite3_bin: str, mode: int) -> dict[str, Any] | None:
    """`sqlite3 -readonly <damaged> .recover | sqlite3 <new>`; None when nothing came back.

    `.recover` needs the sqlite_dbpage table, which some distribution builds of the sqlite3
    command lack; `.dump` (which skips unreadable pages) is the second try.
    """
    for command in (".recover", ".dump"):
        with temp_path(registry.parent, prefix=f".zarchd-salvage-{registry.name}-") as tmp:
            if not _pipe(sqlite3_bin, damaged, command, tmp):
                continue
            tables = _row_counts(tmp)
            if not any(tables.values()) or files.integrity(tmp) != ["ok"]:
                continue
            fsync_file(tmp)
            os.chmod(tmp, mode)
            _move_stray_companions(registry)
            publish(tmp, registry)
            return {"tool": f"{sqlite3_bin} {command}", "tables": tables,
                    "rows": sum(tables.values())}
    return None


def _pipe(sqlite3_bin: str, damaged: Path, command: str, target: Path) -> bool:
    """Stream the SQL text of `damaged` into a new database `target`; False if it did not run."""
    try:
        dump = subprocess.Popen([sqlite3_bin, "-readonly", str(damaged), command],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        load = subprocess.Popen([sqlite3_bin, str(target)], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        return False
    assert dump.stdout is not None and load.stdin is not None
    try:
        for line in dump.stdout:
            # .dump ends with a ROLLBACK when it met unreadable pages: keep what it did read
            if line.startswith(b"ROLLBACK; -- due to errors"):
                line = b"COMMIT;\n"
            load.stdin.write(line)
        load.stdin.close()
        load.wait(timeout=SALVAGE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        load.kill()
        return False
    finally:
        dump.stdout.close()
        dump.wait()
    return True


def _row_counts(path: Path) -> dict[str, int]:
    try:
        conn = sqlite3.connect(path)
        try:
            names_ = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
            return {n: conn.execute(f"SELECT count(*) FROM {quote_ident(n)}").fetchone()[0]
                    for n in names_}
        finally:
            conn.close()
    except sqlite3.Error:
        return {}
