"""Where backups live: one interface (BackupStore) and its first implementation, a local
directory (LocalDirectory).

Taking, listing, verifying, pruning, restoring and recovering reach backups only through a
store, so an off-machine store (e.g. an rclone remote) can join without touching them. The
store keeps the safety rules of the files it holds:
- publishing never overwrites: the sidecar is written (atomically, fsynced) before the backup
  is linked under its name, and a name is taken only when neither file is there;
- a backup is deleted only when our sidecar for exactly that name is beside it, and only then
  is its sidecar removed: 7zarch-go's own backups (no sidecar) are never touched;
- another user's file is never listed as a backup (only reported as ignored), a sidecar is
  read only from a regular file of ours (O_NOFOLLOW), and files are read through descriptors
  by the callers (`ident` says which file was listed);
- orphan sidecars are removed only when ours and only by the holder of the writer lock.

A copy being made is always a local temp file (`temp_file`): for a local directory it sits in
that directory, so publishing it is a link on the same file system.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from abc import ABC, abstractmethod
from collections.abc import Container, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zarchd.backups import names
from zarchd.backups.meta import read_sidecar, write_sidecar
from zarchd.backups.sidecarindex import SidecarIndex
from zarchd.backups.sidecars import read_sidecar_at, sidecar_via_index
from zarchd.backups.temps import TEMP_PREFIX, remove_temps
from zarchd.backups.trust import check_backup_dir, note_ignored, untrusted_owner
from zarchd.core.errors import BackupError, UsageError
from zarchd.core.fsutil import fsync_dir, publish, temp_path, trusted_uids


@dataclass(frozen=True, slots=True)  # slots: built twice as fast, one per file listed
class StoredBackup:
    """One file under a backup name of the registry, as the store lists it."""

    name: str
    location: Path  # where it is shown (and, for a local store, read)
    size: int
    mtime_ns: int
    ident: tuple[int, int] | None  # what a reader must find again (local: st_dev, st_ino)
    untrusted: str | None = None  # why another user's file is ignored; None when trusted
    sidecar: dict[str, Any] | None = None  # our sidecar for exactly this name, else None
    sidecar_mtime_ns: int | None = None
    parsed: names.ParsedName | None = None  # the name's parts, as the scan found them


class BackupStore(ABC):
    """A place that holds finished backups and their sidecars (`<name>.json`)."""

    @abstractmethod
    def __str__(self) -> str:
        """How messages name the store (a local directory: its path)."""

    @abstractmethod
    def location(self, name: str) -> Path:
        """Where the backup `name` is shown to users."""

    @abstractmethod
    def check(self) -> None:
        """UnsafeDirectory when other users could plant or swap backups in the store."""

    @abstractmethod
    def prepare(self) -> None:
        """Make the store ready for a new backup (create it); BackupError, UnsafeDirectory."""

    @abstractmethod
    def scan(self, stem: str) -> list[StoredBackup]:
        """Every file under a backup name of `stem` (unordered); [] when the store does not
        exist yet, BackupError when it cannot be read."""

    @abstractmethod
    def read_sidecar(self, name: str) -> dict[str, Any] | None:
        """Our sidecar for exactly this backup name, or None."""

    @abstractmethod
    def temp_file(self, stem: str) -> AbstractContextManager[Path]:
        """A new local temp file for a copy being made; removed on exit unless published."""

    @abstractmethod
    def remove_temps(self, stem: str, older_than_s: float | None = None) -> list[Path]:
        """Our temp files a killed run left (with `older_than_s` only older backup copies)."""

    @abstractmethod
    def put(self, tmp: Path, candidates: Iterable[str], meta: dict[str, Any]) -> str:
        """Publish the finished `tmp` with its sidecar `meta` under the first free candidate
        name (neither the backup nor a sidecar there), never overwriting; the name."""

    def put_link(
        self, existing: str, ident: tuple[int, int], candidates: Iterable[str], meta: dict[str, Any]
    ) -> str | None:
        """Publish the backup `existing` (still the file `ident`) again under the first free
        candidate name with its own sidecar `meta`, sharing its data (identical backups stored
        once); None when this store cannot share files (the caller publishes a copy)."""
        return None

    @abstractmethod
    def open(self, name: str) -> AbstractContextManager[Path]:
        """A local path to read the backup `name` (SQLite checks, copies) while in the block."""

    @abstractmethod
    def unchanged(self, name: str, ident: tuple[int, int] | None) -> bool:
        """The file at `name` is still the one listed with `ident`."""

    @abstractmethod
    def update_sidecar(self, name: str, meta: dict[str, Any]) -> None:
        """Replace the sidecar of our backup `name` (verify records its outcome); OSError."""

    @abstractmethod
    def delete(self, name: str) -> bool:
        """Delete the backup and its sidecar, only when our sidecar is there (False when not).
        OSError when the backup could not be deleted."""

    @abstractmethod
    def sync(self) -> None:
        """Make deletions durable."""

    @abstractmethod
    def remove_orphan_sidecars(self, stem: str, older_than_s: float | None = None) -> list[Path]:
        """Remove our sidecars whose backup is gone; with `older_than_s` only older ones."""


def as_store(store: BackupStore | str | os.PathLike[str]) -> BackupStore:
    """A store as given, or a directory path as a LocalDirectory (callers and tests that pass
    the backup directory keep working)."""
    if isinstance(store, BackupStore):
        return store
    return LocalDirectory(Path(store))


def dir_problem(backup_dir: Path, exc: OSError) -> str:
    """What is wrong with the backup directory, for users: the path and what to do."""
    if isinstance(exc, (NotADirectoryError, FileExistsError)):
        return (
            f"the backup directory {backup_dir} is not a directory (a file is in the way); "
            f"move it, or set [backup] dir to another place"
        )
    return f"cannot read the backup directory {backup_dir}: {exc.strerror or exc}"


class LocalDirectory(BackupStore):
    """Backups as files in a local directory (created 0700), sidecars beside them."""

    def __init__(self, path: Path, index: Path | None = None) -> None:
        self.path = Path(path)
        # With `index` (a file in zarchd's state dir), listing reads only changed sidecars.
        self._index = SidecarIndex(index, self.path) if index is not None else None

    def __str__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"LocalDirectory({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LocalDirectory) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    def location(self, name: str) -> Path:
        return self.path / name

    def check(self) -> None:
        check_backup_dir(self.path)

    def prepare(self) -> None:
        try:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:  # a file where the dir should be
            raise BackupError(dir_problem(self.path, exc)) from exc
        except OSError as exc:
            raise BackupError(
                f"cannot create the backup directory {self.path}: {exc.strerror}"
            ) from exc
        self.check()  # nobody else may plant or swap files where we write

    def scan(self, stem: str) -> list[StoredBackup]:
        dir_fd = self.open_dir()
        if dir_fd is None:
            return []
        try:
            return self._scan(dir_fd, stem)
        except OSError as exc:
            raise BackupError(dir_problem(self.path, exc)) from exc
        finally:
            os.close(dir_fd)

    def _scan(self, dir_fd: int, stem: str) -> list[StoredBackup]:
        # Names and files relative to the directory's descriptor: no path object per step
        # (10,000 backups, issue 16), and the directory cannot be swapped halfway.
        found: list[StoredBackup] = []
        trusted = trusted_uids()  # once, not twice per backup
        parse, suffix = names.parse, names.SUFFIX
        for name in os.listdir(dir_fd):
            if not name.endswith(suffix):  # the sidecars, half the names: no call (as parse)
                continue
            parsed = parse(stem, name)
            if parsed is None:
                continue
            try:
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if not stat.S_ISREG(st.st_mode):  # symlinks, dirs: not ours to read or delete
                continue
            found.append(self.entry(dir_fd, name, parsed, st, trusted))
        if self._index is not None:
            self._index.save()
        return found

    def entry(
        self,
        dir_fd: int,
        name: str,
        parsed: names.ParsedName,
        st: os.stat_result,
        trusted: Container[int],
    ) -> StoredBackup:
        """The backup `name` (a regular file with the lstat `st`) as scan lists it: another
        user's is untrusted (and logged), ours comes with our sidecar for it (or None)."""
        # A name from listdir is one plain part: pathlib's own way to add it (what iterdir
        # uses) skips re-parsing the whole path per entry; `/` where it is absent.
        path = getattr(self.path, "_make_child_relpath", self.path.joinpath)(name)
        ident = (st.st_dev, st.st_ino)
        why = None if st.st_uid in trusted else untrusted_owner(st)
        if why is not None:
            note_ignored(path, st, why)
            return StoredBackup(name, path, st.st_size, st.st_mtime_ns, ident, why)
        if self._index is not None:
            meta, sidecar_mtime = sidecar_via_index(dir_fd, name, self._index, trusted)
        else:
            meta, read = read_sidecar_at(dir_fd, name)
            sidecar_mtime = read.st_mtime_ns if read is not None else None
        return StoredBackup(
            name, path, st.st_size, st.st_mtime_ns, ident, None, meta, sidecar_mtime, parsed
        )

    @property
    def index(self) -> SidecarIndex | None:
        """What listing learnt of each sidecar (None: every sidecar is read)."""
        return self._index

    def open_dir(self) -> int | None:
        """A descriptor of the directory to list by (the caller closes it); None when it does
        not exist yet; BackupError when it cannot be read."""
        try:
            return os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError as exc:  # a file in the way, no permission: say which, never a traceback
            raise BackupError(dir_problem(self.path, exc)) from exc

    def read_sidecar(self, name: str) -> dict[str, Any] | None:
        return read_sidecar(self._path(name))

    def temp_file(self, stem: str) -> AbstractContextManager[Path]:
        return temp_path(self.path, prefix=f"{TEMP_PREFIX}{stem}-", suffix=".bak.tmp")

    def remove_temps(self, stem: str, older_than_s: float | None = None) -> list[Path]:
        cutoff = None if older_than_s is None else time.time() - older_than_s
        return remove_temps(self.path, stem, cutoff)

    def put(self, tmp: Path, candidates: Iterable[str], meta: dict[str, Any]) -> str:
        # Sidecar first, then the backup under a free name (7zarch-go may take one meanwhile).
        for name in candidates:
            final = self._path(name)
            if os.path.lexists(final) or os.path.lexists(names.sidecar_path(final)):
                continue  # a backup, or an orphan sidecar that still claims the name
            meta["name"] = name
            sidecar = write_sidecar(final, meta)
            try:
                publish(tmp, final)
                return name
            except FileExistsError:
                sidecar.unlink(missing_ok=True)
            except BaseException:
                if not os.path.lexists(final):  # the link failed (ENOSPC...): no orphan sidecar
                    sidecar.unlink(missing_ok=True)
                raise
        raise UsageError(f"no free backup name left in {self.path}")

    def put_link(
        self, existing: str, ident: tuple[int, int], candidates: Iterable[str], meta: dict[str, Any]
    ) -> str | None:
        source = self._path(existing)
        for name in candidates:
            final = self._path(name)
            if os.path.lexists(final) or os.path.lexists(names.sidecar_path(final)):
                continue
            meta["name"] = name
            sidecar = write_sidecar(final, meta)  # sidecar first, as put() does
            try:
                os.link(source, final, follow_symlinks=False)
            except FileExistsError:
                sidecar.unlink(missing_ok=True)
                continue
            except OSError:  # no hard links here (EPERM, EMLINK...): a copy is published
                sidecar.unlink(missing_ok=True)
                return None
            try:
                st = os.lstat(final)
            except OSError:
                st = None
            if st is None or (st.st_dev, st.st_ino) != ident:  # `existing` was swapped meanwhile
                with contextlib.suppress(OSError):
                    final.unlink()
                sidecar.unlink(missing_ok=True)
                return None
            fsync_dir(self.path)
            return name
        raise UsageError(f"no free backup name left in {self.path}")

    @contextlib.contextmanager
    def _open(self, name: str) -> Iterator[Path]:
        yield self._path(name)  # the file itself: readers open it O_NOFOLLOW, checking ident

    def open(self, name: str) -> AbstractContextManager[Path]:
        return self._open(name)

    def unchanged(self, name: str, ident: tuple[int, int] | None) -> bool:
        try:
            st = os.lstat(self._path(name))
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == ident

    def update_sidecar(self, name: str, meta: dict[str, Any]) -> None:
        write_sidecar(self._path(name), meta)

    def delete(self, name: str) -> bool:
        path = self._path(name)
        if read_sidecar(path) is None:  # re-checked right before deleting: only ours
            return False
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        with contextlib.suppress(FileNotFoundError):
            names.sidecar_path(path).unlink()
        return True

    def sync(self) -> None:
        fsync_dir(self.path)

    def remove_orphan_sidecars(self, stem: str, older_than_s: float | None = None) -> list[Path]:
        # Only ours: a regular file owned by zarchd's user, our FORMAT for exactly that name,
        # no backup (nor anything else) at the name beside it.
        removed: list[Path] = []
        cutoff = None if older_than_s is None else time.time() - older_than_s
        try:
            entries = list(os.scandir(self.path))
        except OSError:
            return removed
        for entry in entries:
            if not entry.name.endswith(names.SIDECAR):
                continue
            backup_name = entry.name[: -len(names.SIDECAR)]
            if names.parse(stem, backup_name) is None:
                continue
            backup = self.path / backup_name
            with contextlib.suppress(OSError):
                st = entry.stat(follow_symlinks=False)
                if (
                    not stat.S_ISREG(st.st_mode)
                    or st.st_uid != os.geteuid()
                    or (cutoff is not None and st.st_mtime >= cutoff)
                    or os.path.lexists(backup)
                    or read_sidecar(backup) is None
                ):
                    continue
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        return removed

    def _path(self, name: str) -> Path:
        names.check_plain_name(name)  # a name never reaches outside the directory
        return self.path / name
