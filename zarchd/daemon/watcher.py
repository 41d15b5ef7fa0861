"""Watch the registry's directory (and the app's version file and migrations dir) with watchdog.

Rules learnt by watching SQLite itself (inotify, WAL and rollback journal):
- a WAL commit writes only `registry.db-wal`; a checkpoint later writes `registry.db`;
- a READER (the daemon's own integrity check or backup) creates and deletes `-wal`/`-shm` and
  closes `registry.db` as opened-for-write (IN_CLOSE_WRITE, watchdog's "closed") without
  changing a byte.
So only real writes count: "modified" of the registry or its `-wal`/`-journal`, plus the
registry file itself being created, deleted or moved over. Companion create/delete and
"closed" events are ignored, which keeps the daemon from triggering itself. Debounce lives in
the scheduler; callbacks here must be quick.

inotify watches an inode, not a path: when the registry's directory is deleted (or moved away)
and recreated, the old watch ends or follows the old inode and no event for the new directory
ever arrives. A small guard thread therefore compares the directory's identity with the watched
one every `guard_interval` seconds (and at once when watchdog reports the directory deleted),
logs the loss, polls until the directory is back and re-arms the watch there.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from watchdog.events import (
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from zarchd.core.errors import RegistryError, ZarchError
from zarchd.db.registry import COMMIT_COMPANIONS

log = logging.getLogger(__name__)

# Only these kinds reach the handler (and the inotify mask): reads make no events at all.
EVENT_FILTER: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
]
COMPANION_SUFFIXES = COMMIT_COMPANIONS  # not -shm: a reader opening the registry changes it
# The dispatcher wakes this often when idle; stop() does not wait for it (a sentinel is queued).
IDLE_TIMEOUT_S = 30.0
# How often the guard checks that the watched directory is still the one at the registry's path.
GUARD_INTERVAL_S = 1.0


def _dir_identity(path: str) -> tuple[int, int] | None:
    """(st_dev, st_ino) of the directory at `path`, or None when there is no directory there."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if os.path.isdir(path) else None


RegistryToken = tuple[tuple[int, int, int], ...]


def registry_token(registry: Path) -> RegistryToken:
    """The registry's stats as the watcher's rescan sees them (see _stat_token)."""
    return _stat_token(_abs(registry))


def _stat_token(registry: str) -> RegistryToken:
    """What a commit changes in the registry and its -wal/-journal: (inode, size, mtime) each."""
    token = []
    for path in (registry, *(registry + suffix for suffix in COMPANION_SUFFIXES)):
        try:
            st = os.stat(path)
        except OSError:
            token.append((0, -1, 0))
            continue
        token.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(token)


InputsToken = tuple[tuple[str, int, int, int, int, int], ...]


def inputs_token(files: Sequence[Path], dirs: Sequence[Path]) -> InputsToken:
    """What the version files and migration dirs hold now (see _extra_token): the daemon
    compares the token its start-up migration saw with the watcher's first one."""
    return _extra_token({_abs(p) for p in files}, {_abs(p) for p in dirs})


def changed_paths(before: InputsToken, after: InputsToken) -> list[str]:
    """The paths added, removed or changed between two tokens, sorted."""
    return sorted({entry[0] for entry in set(before) ^ set(after)})


def _extra_token(files: set[str], dirs: set[str]) -> InputsToken:
    """(path, device, inode, size, mtime, ctime) of each version file and each `*.sql` in the
    migration dirs: what a new, edited or removed migration changes (ctime too: `cp -p` or
    `tar x` restore an edited file's mtime). Stats and listings only, never an open()."""
    # The directories' own stats too: a chmod or chown (it moves the ctime) decides their trust.
    paths = set(files) | dirs
    for directory in dirs:
        # gone: its files simply drop out of the token
        with contextlib.suppress(OSError), os.scandir(directory) as entries:
            paths.update(e.path for e in entries if e.name.endswith(".sql"))
    token = []
    for path in sorted(paths):
        try:
            st = os.stat(path)
        except OSError:
            continue
        token.append((path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(token)


def _abs(path: Path) -> str:
    return os.path.abspath(os.fspath(path))


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: RegistryWatcher) -> None:
        self._watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            if event.event_type in ("deleted", "moved"):
                self._watcher._poke_guard()  # maybe the watched directory itself went
            return
        try:
            self._watcher._route(event)
        except Exception:  # never let a callback kill the observer thread
            log.exception("file watch callback failed for %s", event)


class RegistryWatcher:
    def __init__(
        self,
        registry: Path,
        on_registry_change: Callable[[str], None],
        *,
        extra_files: Sequence[Path] = (),
        extra_dirs: Sequence[Path] = (),
        on_extra_change: Callable[[Path], None] | None = None,
        guard_interval: float = GUARD_INTERVAL_S,
    ) -> None:
        self._registry = _abs(registry)
        self._reg_dir = os.path.dirname(self._registry)
        self._companions = {self._registry + s for s in COMPANION_SUFFIXES}
        self._on_registry_change = on_registry_change
        self._extra_files = {_abs(p) for p in extra_files}
        self._extra_dirs = {_abs(p) for p in extra_dirs}
        self._on_extra_change = on_extra_change
        self._observer: BaseObserver | None = None
        self._handler = _Handler(self)
        self._guard_interval = guard_interval
        # the guard's rescan: the registry's stat as last seen, and whether an event came since
        self._token: RegistryToken | None = None
        self._event_seen = False
        # the same for the version file and the migration files
        self._extra_token: InputsToken | None = None
        self._extra_seen: set[str] = set()  # paths whose events reached on_extra_change
        self._guard_wake = threading.Event()
        self._guard_stop = threading.Event()
        self._guard: threading.Thread | None = None
        self._reg_watch: ObservedWatch | None = None
        self._reg_dir_id: tuple[int, int] | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        reg_dir = os.path.dirname(self._registry)
        if not os.path.isdir(reg_dir):
            raise RegistryError(
                f"cannot watch the registry: its directory {reg_dir} does not exist "
                f"(create it, or set [registry] path to where the registry lives)"
            )
        dirs = {reg_dir}
        if self._on_extra_change is not None:
            for extra in [os.path.dirname(f) for f in self._extra_files] + sorted(self._extra_dirs):
                if os.path.isdir(extra):
                    dirs.add(extra)
                else:  # not fatal: the daemon still guards the registry
                    log.warning("not watching %s: directory does not exist", extra)
        observer = Observer(timeout=IDLE_TIMEOUT_S)
        try:
            self._reg_dir_id = _dir_identity(reg_dir)
            for directory in sorted(dirs):
                watch = observer.schedule(
                    self._handler, directory, recursive=False, event_filter=EVENT_FILTER
                )
                if directory == reg_dir:
                    self._reg_watch = watch
            observer.start()
        except OSError as exc:  # e.g. inotify watch limit reached
            raise ZarchError(
                f"cannot watch {sorted(dirs)}: {exc} (on Linux, raise "
                f"fs.inotify.max_user_watches / max_user_instances)"
            ) from None
        self._observer = observer
        # From here on, events or the rescan tell of changes; the daemon compares these first
        # looks with what it saw before the watch existed.
        self._token = _stat_token(self._registry)
        if self._on_extra_change is not None:
            self._extra_token = _extra_token(self._extra_files, self._extra_dirs)
        self._guard_stop.clear()
        self._guard = threading.Thread(
            target=self._guard_loop, name="zarchd-watch-guard", daemon=True
        )
        self._guard.start()
        log.info("watching %s", ", ".join(sorted(dirs)))

    @property
    def registry_token(self) -> RegistryToken | None:
        """The registry's stats (its -wal and -journal too) as of the watch's start (or the
        last rescan)."""
        return self._token

    @property
    def inputs_token(self) -> InputsToken | None:
        """The version files' and migration files' state as of the watch's start (or the last
        rescan): a change made before the watch existed is told by comparing with it."""
        return self._extra_token

    def stop(self, timeout: float = 5.0) -> None:
        observer, self._observer = self._observer, None
        if observer is None:
            return
        self._guard_stop.set()
        self._guard_wake.set()
        if self._guard is not None:
            self._guard.join(timeout)
            self._guard = None
        observer.stop()
        observer.join(timeout)
        if observer.is_alive():
            log.warning("file watcher did not stop within %.1f s", timeout)

    # -- guard: keep the registry directory's watch on the directory at its path -------------------

    def _poke_guard(self) -> None:
        self._guard_wake.set()

    def _guard_loop(self) -> None:
        lost = False
        while not self._guard_stop.is_set():
            self._guard_wake.wait(self._guard_interval)
            self._guard_wake.clear()
            if self._guard_stop.is_set():
                return
            try:
                lost = self._guard_once(lost)
            except Exception:  # never let a callback end the guard (and its re-arming)
                log.exception("the file watch's guard failed; it goes on")

    def _guard_once(self, lost: bool) -> bool:
        """One look: rescan, or notice the registry's directory lost and re-arm its watch.
        Returns whether the watch is (still) lost."""
        current = _dir_identity(self._reg_dir)
        if current is not None and current == self._reg_dir_id and self._reg_watch_alive():
            self._rescan()
            return False
        if not lost:
            log.warning(
                "the registry's directory %s was %s: watch lost; polling for it every %.1f s",
                self._reg_dir,
                "deleted" if current is None else "replaced",
                self._guard_interval,
            )
            self._drop_reg_watch()
            lost = True
        return not (current is not None and self._rearm(current))

    def _reg_watch_alive(self) -> bool:
        # watchdog's inotify emitter ends itself when its directory is deleted; the inode number
        # of a recreated directory may be the old one, so identity alone cannot tell.
        observer, watch = self._observer, self._reg_watch
        if observer is None or watch is None:
            return False
        return any(e.watch == watch and e.is_alive() for e in observer.emitters)

    def _drop_reg_watch(self) -> None:
        observer, watch, self._reg_watch = self._observer, self._reg_watch, None
        if observer is None or watch is None:
            return
        with contextlib.suppress(KeyError, OSError):  # the emitter ended with its directory
            observer.unschedule(watch)

    def _rearm(self, identity: tuple[int, int]) -> bool:
        observer = self._observer
        if observer is None:
            return False
        try:
            self._reg_watch = observer.schedule(
                self._handler, self._reg_dir, recursive=False, event_filter=EVENT_FILTER
            )
        except OSError as exc:  # gone again, or out of watches: keep polling
            log.warning("cannot watch %s yet: %s", self._reg_dir, exc)
            return False
        self._reg_dir_id = identity
        log.warning("the registry's directory %s is back: watching it again", self._reg_dir)
        if os.path.exists(self._registry):
            # Whatever was written before the new watch existed must not go unnoticed.
            self._emit("replaced")
        return True

    # -- routing (observer thread) ----------------------------------------------------------------

    def _route(self, event: FileSystemEvent) -> None:
        src = os.fsdecode(event.src_path)
        dest = os.fsdecode(event.dest_path) if isinstance(event, FileMovedEvent) else ""
        kind = event.event_type
        self._route_registry(kind, src, dest)
        if self._on_extra_change is not None:
            self._route_extra(kind, src, dest)

    def _route_registry(self, kind: str, src: str, dest: str) -> None:
        if kind == "moved":
            if dest == self._registry:
                self._emit("replaced")
            elif src == self._registry:
                self._emit("deleted")  # moved away: the registry is gone from its path
            elif dest in self._companions:
                self._emit("modified")
        elif src == self._registry:
            self._emit(kind)  # modified / created / deleted
        elif src in self._companions and kind == "modified":
            self._emit("modified")

    def _emit(self, kind: str) -> None:
        log.debug("registry %s", kind)
        self._event_seen = True
        self._on_registry_change(kind)

    def _rescan(self) -> None:
        """Events can be lost (the kernel's inotify queue overflows under a flood of events,
        and watchdog then only logs it): a registry whose stat changed while no event told us
        is reported as modified. Stat only, never an open of the registry."""
        token = _stat_token(self._registry)
        seen, self._event_seen = self._event_seen, False
        if self._token is not None and token != self._token and not seen:
            log.info("the registry changed with no file event seen (events lost?): rescanned")
            self._on_registry_change("modified")
        self._token = token
        if self._on_extra_change is not None:
            self._rescan_extra()

    def _rescan_extra(self) -> None:
        """The same for the app's version file and migration files: a new migration whose
        events were lost would otherwise wait for the next restart."""
        assert self._on_extra_change is not None
        token = _extra_token(self._extra_files, self._extra_dirs)
        seen, self._extra_seen = self._extra_seen, set()
        if self._extra_token is not None and token != self._extra_token:
            # Told whatever events came: an event for one file says nothing of another whose
            # events were lost, and an event may arrive after this look (a second request is
            # merged by the scheduler, or finds nothing pending). Deletions and renames away
            # are never routed as events, so they are told here.
            changed = changed_paths(self._extra_token, token)
            unseen = [p for p in changed if p not in seen]
            log.log(
                logging.INFO if unseen else logging.DEBUG,
                "%s changed: checking migrations",
                (unseen or changed)[0],
            )
            self._on_extra_change(Path((unseen or changed)[0]))
        self._extra_token = token

    def _route_extra(self, kind: str, src: str, dest: str) -> None:
        assert self._on_extra_change is not None
        path = dest if kind == "moved" else src
        if path in self._extra_files or (
            kind != "deleted"
            and path.endswith(".sql")
            and os.path.dirname(path) in self._extra_dirs
        ):
            self._extra_seen.add(path)
            self._on_extra_change(Path(path))
