"""A backup fetched from elsewhere (an rclone remote), restorable through the local restore path.

The fetched file and its sidecar sit in a private work directory (0700, a fresh name) next to
where they will be put; `DownloadedCopy` is the store `restore_backup` reads them through, so
a fetched copy gets exactly the checks, safety backup and swap of a local restore. Reads (scan,
open, sidecar) see only the fetched copy; writes (the safety backup of the current registry)
go to the local backup store; nothing is ever deleted through it.

The copy is kept under the local registry's stem (the name's time and sequence unchanged): a
copy of another machine's `archive.db` restores into this machine's `registry.db`.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from zarchd.backups import names
from zarchd.backups.meta import write_sidecar
from zarchd.backups.storage import BackupStore, LocalDirectory, StoredBackup
from zarchd.backups.temps import FETCH_DIR_SUFFIX, TEMP_PREFIX
from zarchd.core.errors import BackupError


def local_name(name: str, remote_stem: str, stem: str) -> str:
    """`name` (a backup name of `remote_stem`) as a backup name of the local `stem`."""
    if names.parse(remote_stem, name) is None:
        raise BackupError(f"{name!r} is not a backup name of {remote_stem!r}")
    return stem + name[len(remote_stem) :]


@contextlib.contextmanager
def fetch_dir(near: Path, stem: str) -> Iterator[Path]:
    """A private (0700, fresh name: mkdtemp is O_EXCL) work directory in `near`, created 0700
    when missing (a new machine has no registry directory yet); removed on exit."""
    try:
        near.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = Path(
            tempfile.mkdtemp(
                prefix=f"{TEMP_PREFIX}fetch-{stem}-", suffix=FETCH_DIR_SUFFIX, dir=near
            )
        )
    except OSError as exc:
        raise BackupError(f"cannot make a work directory in {near}: {exc.strerror or exc}") from exc
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def hold(holding: Path, name: str, meta: dict[str, Any]) -> None:
    """Write the fetched copy's sidecar beside it in the work directory, under `name`."""
    clean = {k: v for k, v in meta.items() if k != "format"}
    clean["name"] = name
    write_sidecar(holding / name, clean)


class DownloadedCopy(BackupStore):
    """Reads from the work directory holding the fetched copy; writes to the local store."""

    def __init__(self, holding: Path, local: BackupStore, origin: str) -> None:
        self.holding = LocalDirectory(holding)
        self.local = local
        self.origin = origin  # how messages name where the copy came from

    def __str__(self) -> str:
        return self.origin

    def location(self, name: str) -> Path:
        held = self.holding.location(name)
        return held if held.exists() else self.local.location(name)  # a safety backup: local

    def check(self) -> None:
        self.local.check()

    def prepare(self) -> None:
        self.local.prepare()

    def scan(self, stem: str) -> list[StoredBackup]:
        return self.holding.scan(stem)

    def read_sidecar(self, name: str) -> dict[str, Any] | None:
        return self.holding.read_sidecar(name)

    def temp_file(self, stem: str) -> AbstractContextManager[Path]:
        return self.local.temp_file(stem)

    def remove_temps(self, stem: str, older_than_s: float | None = None) -> list[Path]:
        return self.local.remove_temps(stem, older_than_s)

    def put(self, tmp: Path, candidates: Iterable[str], meta: dict[str, Any]) -> str:
        return self.local.put(tmp, candidates, meta)

    def open(self, name: str) -> AbstractContextManager[Path]:
        return self.holding.open(name)

    def unchanged(self, name: str, ident: tuple[int, int] | None) -> bool:
        return self.holding.unchanged(name, ident)

    def update_sidecar(self, name: str, meta: dict[str, Any]) -> None:
        self.holding.update_sidecar(name, meta)  # the work copy's record only

    def delete(self, name: str) -> bool:
        return False  # a fetched copy is never deleted through the store

    def sync(self) -> None:
        self.local.sync()

    def remove_orphan_sidecars(self, stem: str, older_than_s: float | None = None) -> list[Path]:
        return self.local.remove_orphan_sidecars(stem, older_than_s)
