"""Swap a prepared replacement in for a damaged registry so that a crash at any moment can be
finished (or undone) by the next start or `recover`.

Before anything moves, an intent file `.<registry name>.zarchd-swap.json` (written atomically,
read back only if it is a regular file of ours, never through a symlink) names the prepared copy
and the set-aside name. `resume_swap` reads it: with no registry in place it publishes the
prepared copy once it checks sound, else puts the set-aside registry back; it never lets the
prepared copy be deleted while the registry is missing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

from zarchd.core.clock import Clock, iso
from zarchd.core.errors import RegistryError, UnsafePath
from zarchd.core.fsutil import SAFE_FLAGS, atomic_write_bytes, fsync_dir, trusted_uids
from zarchd.db.registry import check_file, companions

log = logging.getLogger(__name__)


def intent_path(registry: Path) -> Path:
    return registry.with_name(f".{registry.name}.zarchd-swap.json")


def swap_in(
    ready: Path, registry: Path, aside: Path, now: Clock, restored: str | None = None
) -> None:
    """Set `registry` aside as `aside` and publish `ready` in its place, restartably."""
    from zarchd.backups.recover import (  # recover imports this module
        _put_back,
        put_in_place,
        set_aside,
    )

    write_intent(
        registry,
        {
            "prepared": ready.name,
            "aside": aside.name,
            "restored": restored,
            "size_bytes": ready.stat().st_size,
            "at": iso(now()),
            "pid": os.getpid(),
        },
    )
    try:
        set_aside(registry, now, to=aside)
        try:
            put_in_place(ready, registry)
        except BaseException:
            _put_back(aside, registry)
            raise
    except BaseException:
        if os.path.lexists(registry):  # undone: the intent has nothing left to finish
            clear_intent(registry)
        raise
    clear_intent(registry)


def write_intent(registry: Path, data: dict[str, Any]) -> None:
    path = intent_path(registry)
    with contextlib.suppress(FileNotFoundError):
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_uid not in trusted_uids():
            # Planted by another user (a sticky directory keeps us from replacing it): say so
            # instead of failing later with a bare "Operation not permitted".
            raise UnsafePath(
                f"{path} is not zarchd's (owner uid {st.st_uid}); it blocks recovery: have its "
                f"owner or root remove it, then run recover again"
            )
    atomic_write_bytes(path, json.dumps(data, sort_keys=True).encode())


def clear_intent(registry: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        intent_path(registry).unlink()
        fsync_dir(registry.parent)


def read_intent(registry: Path) -> dict[str, Any] | None:
    """The intent, if one of ours is there (no symlink, a regular file of this user or root)."""
    path = intent_path(registry)
    try:
        # non-blocking: a FIFO planted under this name must not hang start-up holding the lock
        fd = os.open(path, os.O_RDONLY | SAFE_FLAGS)
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("ignoring %s: %s", path, exc.strerror or exc)
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid not in trusted_uids():
            log.warning("ignoring %s: not a regular file of this user", path)
            return None
        data = json.loads(os.read(fd, 65536).decode())
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return None
    finally:
        os.close(fd)
    names = (data.get("prepared"), data.get("aside")) if isinstance(data, dict) else ()
    if (
        not all(isinstance(n, str) and n and "/" not in n and n not in (".", "..") for n in names)
        or not names
    ):
        log.warning("ignoring %s: not an intent zarchd wrote", path)
        return None
    return data if isinstance(data, dict) else None


def resume_swap(registry: Path) -> str | None:
    """Finish or undo a swap a crash interrupted; what was done (for the log), or None when
    there was nothing to resume. OSError when a rename fails (the intent and every file stay).
    """
    from zarchd.backups.recover import _move_stray_companions, _put_back, put_in_place

    intent = read_intent(registry)
    if intent is None:
        return None
    prepared = registry.with_name(intent["prepared"])
    aside = registry.with_name(intent["aside"])
    if os.path.lexists(registry):
        if not os.path.lexists(aside):  # crashed while setting aside: companions first
            for moved, original in zip(companions(aside), companions(registry), strict=True):
                if moved.exists() and not os.path.lexists(original):
                    os.rename(moved, original)
            fsync_dir(registry.parent)
            clear_intent(registry)
            return f"an interrupted recovery of {registry} had not moved it yet; left in place"
        clear_intent(registry)
        return f"an interrupted recovery of {registry} had finished; {aside.name} kept"
    if prepared.is_file() and not prepared.is_symlink() and _sound(prepared, intent):
        _move_stray_companions(registry)
        put_in_place(prepared, registry)
        clear_intent(registry)
        return (
            f"finished an interrupted recovery: {registry} is now the verified copy of "
            f"{intent.get('restored') or 'the salvaged data'}; the damaged one is {aside.name}"
        )
    if os.path.lexists(aside):
        _put_back(aside, registry)
        clear_intent(registry)
        return (
            f"undid an interrupted recovery: its prepared copy was gone or unsound, so "
            f"{aside.name} was put back as {registry.name}; run `zarchctl recover` again"
        )
    clear_intent(registry)  # nothing left to finish or undo; recover restores from backups
    return (
        f"an interrupted recovery of {registry} left neither its prepared copy nor the "
        f"set-aside registry; run `zarchctl recover` to restore the newest backup"
    )


def _sound(prepared: Path, intent: dict[str, Any]) -> bool:
    size = intent.get("size_bytes")
    if isinstance(size, int) and prepared.stat().st_size != size:
        return False
    try:
        return check_file(prepared, static=True) == ["ok"]
    except RegistryError:
        return False
