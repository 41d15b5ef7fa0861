"""A damaged registry: put the newest backup that verifies in its place, or what SQLite's
`.recover` can salvage when no backup verifies; the damaged one is set aside, never deleted,
and only once its replacement is ready."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from zarchd.backups import names
from zarchd.backups.emptiness import empty_registry_problem
from zarchd.backups.listing import list_backups
from zarchd.backups.storage import BackupStore, as_store
from zarchd.backups.swap import resume_swap, swap_in
from zarchd.backups.temps import SALVAGE_DIR_SUFFIX, TEMP_PREFIX
from zarchd.backups.verify import backup_problems
from zarchd.core.clock import Clock, utcnow
from zarchd.core.errors import BackupError, RegistryError, UnsafePath, UsageError
from zarchd.core.fsutil import copy_into, fsync_dir, fsync_file, publish, temp_path
from zarchd.core.progress import Progress, Stage, no_progress
from zarchd.db.registry import (
    COMMIT_COMPANIONS,
    DEFAULT_LOCK_TIMEOUT,
    check_file,
    companions,
    quote_ident,
)
from zarchd.db.writers import open_for_writing

SALVAGE_TIMEOUT_S = 3600.0
# (mode, exit stack, skipped list, progress) -> a prepared copy beside the registry and its name
Fallback = Callable[
    [int, contextlib.ExitStack, list[dict[str, Any]], Progress], tuple[Path, str] | None
]


def aside_name(registry: Path, now: Clock) -> Path:
    """A free `registry.db.corrupted-YYYYMMDD-HHMMSS[-N]` (with no companions under it)."""
    local = now().astimezone(names.local_tz())
    base = f"{registry.name}.corrupted-{local:%Y%m%d-%H%M%S}"
    for n in range(0, 10_000):
        aside = registry.with_name(base if n == 0 else f"{base}-{n}")
        if not any(os.path.lexists(p) for p in [aside, *companions(aside)]):
            return aside
    raise BackupError(f"no free name to set {registry} aside")


def set_aside(registry: Path, now: Clock, to: Path | None = None) -> Path:
    """Rename registry.db (and its -wal/-journal/-shm under the same new stem, so SQLite still
    opens them together) to `to`, by default `registry.db.corrupted-YYYYMMDD-HHMMSS[-N]`.

    Companions move first: a crash in between leaves registry.db without its WAL, never a bare
    old -wal next to a missing registry.db that SQLite would apply to a new file.
    """
    aside = to or aside_name(registry, now)
    moved: list[tuple[Path, Path]] = []
    try:
        for comp, target in zip(companions(registry), companions(aside), strict=True):
            if comp.exists():
                os.rename(comp, target)
                moved.append((comp, target))
        os.rename(registry, aside)
    except OSError:
        # Put the companions back: a registry separated from its -wal loses those commits.
        for original, renamed in reversed(moved):
            with contextlib.suppress(OSError):
                os.rename(renamed, original)
        raise
    fsync_dir(registry.parent)
    return aside


def _temp_prefix(kind: str, registry: Path) -> str:
    # temps.temp_name_pattern / take.remove_temp_files know these names
    return f"{TEMP_PREFIX}{kind}-{names.stem_of(registry)}-"


@contextlib.contextmanager
def prepared_copy(
    source: Path, registry: Path, mode: int = 0o600, expect: tuple[int, int] | None = None
) -> Iterator[Path]:
    """A checked, fsynced copy of `source` next to `registry`, ready for `put_in_place`;
    removed on exit unless it was put in place. Nothing at `registry` is touched.
    Copied through descriptors (O_NOFOLLOW, owners checked; `expect`: source's listed
    (dev, ino)): another user's file is never copied, nor a swapped temp name written."""
    with temp_path(registry.parent, prefix=_temp_prefix("restore", registry)) as tmp:
        try:
            copy_into(source, tmp, mode=mode, expect=expect)
        except UnsafePath as exc:
            raise BackupError(f"{exc.message}; nothing was changed") from exc
        problems = _check_static(tmp)
        if problems:
            raise BackupError(
                f"the copy of {source.name} failed its integrity check: "
                f"{problems[0]} (disk trouble?); nothing was changed"
            )
        yield tmp


def put_in_place(tmp: Path, registry: Path) -> None:
    """Publish a prepared file at the (absent) registry path, stray -wal/-journal moved away."""
    _move_stray_companions(registry)
    try:
        publish(tmp, registry)
    except FileExistsError as exc:
        raise BackupError(
            f"{registry} appeared while restoring (is 7zarch-go running?); "
            f"nothing was overwritten, stop it and try again"
        ) from exc


def install_copy(source: Path, registry: Path, mode: int = 0o600) -> None:
    """Put a copy of `source` at the (absent) registry path: temp copy, fsync, check, link."""
    with prepared_copy(source, registry, mode) as tmp:
        put_in_place(tmp, registry)


def _check_static(path: Path) -> list[str]:
    """[] when the file nobody else writes is a sound database, else what is wrong with it."""
    try:
        check = check_file(path, static=True)
    except RegistryError as exc:
        return [exc.message]
    return [] if check == ["ok"] else check


def _move_stray_companions(registry: Path) -> None:
    """A -wal/-journal without its database would be applied to the new file: move it aside."""
    for comp in companions(registry):
        if comp.exists():
            n = 0
            while os.path.lexists(target := Path(f"{comp}.stale-{n}")):
                n += 1
            os.rename(comp, target)


def recover_registry(
    registry: Path,
    store: BackupStore | Path,
    *,
    now: Clock = utcnow,
    progress: Progress = no_progress,
    force: bool = False,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    fallback: Fallback | None = None,
) -> dict[str, Any]:
    """Put the newest backup that verifies (else what salvage reads) in place of a damaged
    registry, which is set aside as `<name>.corrupted-<time>`, never deleted.

    The replacement is ready (verified copy, or salvaged file) BEFORE the registry is moved:
    when there is nothing to put in its place, the registry stays exactly as it was
    (BackupError). Refuses, moving nothing, when the registry could not be checked
    (RegistryError: locked, unreadable) and when it passes its check (UsageError) unless
    `force`: going back to a backup then is `restore NAME`, which keeps a safety backup.
    `lock_timeout` bounds the wait for another process's lock during that check.
    `fallback` (the remotes) is asked for a prepared copy when no local backup verifies,
    before salvage.
    """
    try:
        return _recover(registry, as_store(store), now, progress, force, lock_timeout, fallback)
    except OSError as exc:
        raise BackupError(f"recovering {registry} failed: {exc}; nothing was deleted") from exc


def _recover(
    registry: Path,
    store: BackupStore,
    now: Clock,
    progress: Progress,
    force: bool,
    lock_timeout: float,
    fallback: Fallback | None = None,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "registry": str(registry),
        "corrupted_saved_as": None,
        "restored": None,
        "salvaged": None,
        "skipped": [],
    }
    resumed = resume_swap(registry)
    if resumed is not None:  # a recovery a crash interrupted: finished (or undone) first
        result["resumed"] = resumed
        if registry.exists() and proven_damage(registry, store, lock_timeout) == ["ok"]:
            return result
    mode = 0o600
    exists = registry.exists()
    if exists:
        refuse_if_written(registry)
        try:
            problems = proven_damage(registry, store, lock_timeout)
        except RegistryError as exc:
            raise RegistryError(f"{exc.message} (recover refused: nothing was moved)") from exc
        if problems == ["ok"] and not force:
            raise UsageError(
                f"the registry {registry} passes its integrity check; nothing to "
                f"recover (use `zarchctl restore NAME` to go back to a backup)"
            )
        mode = registry.stat().st_mode & 0o777
    sqlite3_bin = shutil.which("sqlite3")
    with contextlib.ExitStack() as stack:
        ready = _from_backups(registry, store, mode, result, progress, now, stack)
        if ready is None and fallback is not None:  # e.g. a checked copy from a remote
            fetched = fallback(mode, stack, result["skipped"], progress)
            if fetched is not None:
                ready, result["restored"] = fetched
        if ready is None and exists and sqlite3_bin:
            with Stage(progress, "salvage"):  # sqlite3 .recover: no progress until it is done
                salvaged = salvage(registry, sqlite3_bin, mode, stack)
            if salvaged is not None:
                ready, result["salvaged"] = salvaged
        if ready is None:
            raise BackupError(_nothing_message(registry, store, result, exists, sqlite3_bin))
        if not exists:
            put_in_place(ready, registry)
            return result
        refuse_if_written(registry)  # again: the copy took a while
        aside = aside_name(registry, now)
        with Stage(progress, "swap"):
            swap_in(ready, registry, aside, now, restored=result["restored"])
        result["corrupted_saved_as"] = str(aside)
    return result


def refuse_if_written(registry: Path) -> None:
    """Another process with the registry (or its -journal/-wal) open for writing may be in the
    middle of a transaction: never move the file from under it."""
    found = open_for_writing([registry, *companions(registry)])
    if found:
        raise RegistryError(
            f"{registry} is open for writing by {', '.join(map(str, found))}; stop it and run "
            f"recover again (recover refused: nothing was moved)"
        )


def proven_damage(registry: Path, store: BackupStore | Path, lock_timeout: float) -> list[str]:
    """['ok'], or damage that two independent checks agree on (each on a new connection,
    retried while the registry is busy): never a lock artefact of one read. An empty file where
    backups show a registry with data was counts as damage."""
    empty = empty_registry_problem(registry, store)
    if empty:
        return [empty]
    first = _check_retrying(registry, lock_timeout)
    if first == ["ok"]:
        return first
    second = _check_retrying(registry, lock_timeout)
    if second == ["ok"]:
        raise RegistryError(
            f"the registry {registry} failed one integrity check ({first[0]}) "
            f"and passed the next: not proven damaged; run `zarchctl check`"
        )
    return first


def _check_retrying(registry: Path, lock_timeout: float, tries: int = 3) -> list[str]:
    for attempt in range(tries):
        try:
            return check_file(registry, timeout=lock_timeout)
        except RegistryError:
            if attempt == tries - 1:
                raise
            time.sleep(0.2 * (attempt + 1))  # busy: a writer's transaction, give it a moment
    raise AssertionError("unreachable")


def _put_back(aside: Path, registry: Path) -> None:
    """Undo set_aside when the replacement could not be published: never leave no registry."""
    if os.path.lexists(registry):  # something else took the path: keep both, as they are
        return
    os.rename(aside, registry)
    for comp, original in zip(companions(aside), companions(registry), strict=True):
        if comp.exists() and not os.path.lexists(original):
            os.rename(comp, original)
    fsync_dir(registry.parent)


def _from_backups(
    registry: Path,
    store: BackupStore,
    mode: int,
    result: dict[str, Any],
    progress: Progress,
    now: Clock,
    stack: contextlib.ExitStack,
) -> Path | None:
    """A prepared copy of the newest backup that verifies; skipped ones go into `result`."""
    ignored: list[dict[str, str]] = []
    listed = list_backups(registry, store, ignored)
    result["skipped"] += [{"name": i["name"], "problems": [i["reason"]]} for i in ignored]
    for info in reversed(listed):
        if info.untrusted:
            result["skipped"].append(
                {
                    "name": info.name,
                    "problems": [
                        "its metadata's created_at does not match the time in its name: not trusted"
                    ],
                }
            )
            continue
        problems = backup_problems(info, progress, now, store)
        if not problems:
            try:
                with (
                    store.open(info.name) as source,  # the copy outlives a downloaded source
                    Stage(progress, "copy", of=info.name),
                ):
                    ready = stack.enter_context(
                        prepared_copy(source, registry, mode, expect=info.ident)
                    )
            except BackupError as exc:
                problems = [exc.message]
            else:
                result["restored"] = info.name
                return ready
        result["skipped"].append({"name": info.name, "problems": problems})
    return None


def _nothing_message(
    registry: Path,
    store: BackupStore,
    result: dict[str, Any],
    exists: bool,
    sqlite3_bin: str | None,
) -> str:
    why = "no backup verifies" if result["skipped"] else f"there are no backups in {store}"
    if not exists:
        return (
            f"cannot recover {registry}: there is no registry and {why}; put a good copy of "
            f"the registry at {registry}"
        )
    salvage_ = (
        "the sqlite3 command is not installed, so nothing was salvaged (install it and "
        "run recover again)"
        if not sqlite3_bin
        else "salvage read nothing usable"
    )
    return (
        f"cannot recover {registry}: {why} and {salvage_}; the damaged registry was left "
        f"where it was, unchanged (nothing moved). Stop 7zarch-go and zarchd before trying "
        f"by hand (e.g. `sqlite3 {registry} .recover`), or copy a good backup into "
        f"{store} and run recover again"
    )


def salvage(
    damaged: Path, sqlite3_bin: str, mode: int, stack: contextlib.ExitStack
) -> tuple[Path, dict[str, Any]] | None:
    """What `sqlite3 <copy> .recover | sqlite3 <new>` reads from a damaged registry, in a temp
    file (removed when `stack` closes unless put in place); None when nothing came back.

    It reads a copy (with its -wal/-journal), never the registry itself: SQLite may roll back
    a hot journal or create -shm when it opens a file, and the registry must stay untouched
    until the salvaged file is ready. `.recover` needs the sqlite_dbpage table, which some
    distribution builds of the sqlite3 command lack; `.dump` (which skips unreadable pages)
    is the second try.
    """
    # All of salvage's files live in a private 0700 directory: the sqlite3 command and the copy
    # open them (and their -journal/-wal) by name, and no other user may plant a symlink there.
    work = stack.enter_context(salvage_dir(damaged))
    copy = work / "damaged.db"
    copy_in_child(
        [(damaged, copy)]
        + [
            (Path(str(damaged) + s), Path(str(copy) + s))
            for s in COMMIT_COMPANIONS
            if Path(str(damaged) + s).exists()
        ]
    )
    for command in (".recover", ".dump"):
        target = work / f"salvaged{command.replace('.', '-')}.db"
        if not _pipe(sqlite3_bin, copy, command, target):
            continue
        tables = _row_counts(target)
        if not any(tables.values()) or _check_static(target):
            continue
        fsync_file(target)
        os.chmod(target, mode)
        # Out to a temp name of ours beside the registry, where put_in_place links it from
        # (a rename never follows a symlink at its destination).
        tmp = stack.enter_context(
            temp_path(damaged.parent, prefix=_temp_prefix("salvage", damaged))
        )
        os.replace(target, tmp)
        return tmp, {
            "tool": f"{sqlite3_bin} {command}",
            "tables": tables,
            "rows": sum(tables.values()),
        }
    return None


@contextlib.contextmanager
def salvage_dir(registry: Path) -> Iterator[Path]:
    """A fresh 0700 directory beside `registry` (same file system), removed with its content."""
    path = Path(
        tempfile.mkdtemp(
            prefix=_temp_prefix("salvage", registry), suffix=SALVAGE_DIR_SUFFIX, dir=registry.parent
        )
    )
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# Copies files in a child process: a descriptor of the registry opened and closed there cannot
# drop the SQLite locks this process holds on it (POSIX locks are per process).
_COPY_CHILD = (
    "import shutil, sys\n"
    "a = sys.argv[1:]\n"
    "for src, dst in zip(a[::2], a[1::2]):\n"
    "    shutil.copyfile(src, dst)\n"
)


def copy_in_child(pairs: list[tuple[Path, Path]]) -> None:
    """Copy each (source, target) in a separate process; OSError when it failed."""
    argv = [sys.executable, "-c", _COPY_CHILD] + [str(p) for pair in pairs for p in pair]
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=SALVAGE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise OSError(f"copying {pairs[0][0]} took over {SALVAGE_TIMEOUT_S:g}s") from exc
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        raise OSError(f"copying {pairs[0][0]} failed: {lines[-1] if lines else done.returncode}")


def _pipe(sqlite3_bin: str, damaged: Path, command: str, target: Path) -> bool:
    """Stream the SQL text of `damaged` into a new database `target`; False if it did not run."""
    try:
        # not -readonly: it is our copy, and a hot journal in it must be rolled back to read it
        dump = subprocess.Popen(
            [sqlite3_bin, str(damaged), command], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        load = subprocess.Popen(
            [sqlite3_bin, str(target)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
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
            names_ = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
                )
            ]
            return {
                n: conn.execute(f"SELECT count(*) FROM {quote_ident(n)}").fetchone()[0]
                for n in names_
            }
        finally:
            conn.close()
    except sqlite3.Error:
        return {}
