"""One registry's directory on one remote: list, upload, download, delete, sidecars, fleet.

Layout: `<target>/<prefix>` (default prefix `<host>/<registry stem>/`, so many machines share a
bucket) holds `<name>.bak` and its sidecar `<name>.bak.json`. A copy counts only once its sidecar
exists: the sidecar is written last, after the copy was moved into place and verified, so a killed
upload (which on SFTP leaves a truncated file under the name it was writing) is never a backup.
Uploads go to `.<name>.zarchd-tmp-<random>` first and are moved into place with `rclone moveto`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import secrets
import socket
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from zarchd.backups import names
from zarchd.backups.meta import FORMAT, MAX_SIDECAR
from zarchd.core.clock import iso, parse_iso
from zarchd.core.config import RemoteConfig
from zarchd.core.errors import RemoteError
from zarchd.remote.rclone import Rclone, local_path

LIST_TIMEOUT = 300.0
TEMP_MARK = ".zarchd-tmp-"
_TEMP = re.compile(r"^\.(.+)\.zarchd-tmp-[0-9a-f]+$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HOST_SAFE = re.compile(r"[^A-Za-z0-9._-]")
_List = list  # RemoteTarget.list() shadows the builtin inside the class body


def local_host() -> str:
    """This machine's name as a prefix part: the short host name, path-safe."""
    short = socket.gethostname().split(".")[0] or "localhost"
    return _HOST_SAFE.sub("_", short)


def join(target: str, rel: str) -> str:
    """`remote:path` + `a/b` -> `remote:path/a/b` (a bare `remote:` takes no slash)."""
    rel = rel.strip("/")
    if not rel:
        return target
    if target.endswith((":", "/")):
        return target + rel
    return f"{target}/{rel}"


@dataclass(frozen=True)
class RemoteCopy:
    name: str
    size: int
    sha256: str | None  # from the sidecar
    created: datetime | None  # the sidecar's created_at (aware), else the object's ModTime
    complete: bool  # a zarchd sidecar for exactly this name exists
    verified: bool = False  # the sidecar says the local backup verified before it was sent
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "size_bytes": self.size,
            "sha256": self.sha256,
            "created_at": iso(self.created) if self.created else None,
            "complete": self.complete,
            "verified": self.verified,
        }


@dataclass(frozen=True)
class HostPrefix:
    """One `<host>/<stem>/` directory under a target (fleet), with its newest complete copy."""

    host: str
    stem: str
    copies: int
    newest: str | None
    newest_at: datetime | None  # when the newest sidecar was written (its ModTime)


@dataclass(frozen=True)
class _Entry:
    name: str
    size: int
    modtime: datetime | None
    hashes: dict[str, str]


def _modtime(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _entries(raw: bytes) -> list[_Entry]:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise RemoteError("rclone lsjson printed something that is not JSON") from None
    out = []
    for item in data if isinstance(data, list) else []:
        if not isinstance(item, dict) or item.get("IsDir"):
            continue
        hashes = item.get("Hashes") or {}
        out.append(
            _Entry(
                str(item.get("Path", item.get("Name", ""))),
                int(item.get("Size", -1)),
                _modtime(item.get("ModTime")),
                {str(k): str(v) for k, v in hashes.items() if v}
                if isinstance(hashes, dict)
                else {},
            )
        )
    return out


def parse_sidecar(raw: bytes, name: str) -> dict[str, Any] | None:
    """A remote sidecar's content if it is zarchd's, for exactly `name`, with a sha256."""
    if len(raw) > MAX_SIDECAR:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None  # a torn sidecar (killed upload) marks nothing complete
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("name") != name:
        return None
    if not isinstance(data.get("sha256"), str) or not _HEX64.match(data["sha256"]):
        return None
    return data


def file_hashes(path: Path) -> dict[str, str]:
    """sha256, md5 and sha1 of a local file in one read (md5/sha1: what servers offer)."""
    algos = {"sha256": hashlib.sha256(), "md5": hashlib.md5(), "sha1": hashlib.sha1()}
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            for h in algos.values():
                h.update(chunk)
    return {k: h.hexdigest() for k, h in algos.items()}


class RemoteTarget:
    """The copies of one registry (`stem`, from `host`) on one remote."""

    def __init__(
        self,
        remote: RemoteConfig,
        host: str | None,
        stem: str,
        *,
        rclone: Rclone | None = None,
    ) -> None:
        self.remote = remote
        self.host = host or local_host()
        self.stem = stem
        self.rclone = rclone or Rclone(remote)
        self.prefix = remote.prefix_for(self.host, stem)
        self.dir = join(remote.target, self.prefix)

    def path(self, name: str) -> str:
        return join(self.dir, name)

    # ---- reading ------------------------------------------------------------------------------

    def _ls(self, where: str, *extra: str) -> list[_Entry]:
        # exit 3: the directory does not exist yet (SFTP, WebDAV, local): nothing there
        res = self.rclone.run(
            ["lsjson", "--files-only", "--no-mimetype", *extra, where],
            timeout=LIST_TIMEOUT,
            ok=(0, 3),
        )
        return [] if res.code == 3 else _entries(res.stdout)

    def _sidecars(self, wanted: list[str]) -> dict[str, dict[str, Any]]:
        """The sidecars of `wanted` names, fetched in one rclone call (not one per copy)."""
        if not wanted:
            return {}
        with tempfile.TemporaryDirectory(prefix="zarchd-remote-") as tmp:
            listing = Path(tmp) / "files"
            listing.write_text("".join(n + names.SIDECAR + "\n" for n in wanted))
            dest = Path(tmp) / "sidecars"
            self.rclone.run(
                ["copy", "--files-from-raw", str(listing), "--no-check-dest", self.dir, str(dest)],
                timeout=LIST_TIMEOUT,
                ok=(0, 3),
            )
            out: dict[str, dict[str, Any]] = {}
            for name in wanted:
                try:
                    raw = (dest / (name + names.SIDECAR)).read_bytes()
                except OSError:
                    continue
                meta = parse_sidecar(raw, name)
                if meta is not None:
                    out[name] = meta
            return out

    def list(self) -> list[RemoteCopy]:
        """Every backup-named object under this prefix, oldest first; complete = sidecar."""
        entries = self._ls(self.dir, "--max-depth", "1")
        present = {e.name for e in entries}
        backups = [
            e
            for e in entries
            if names.parse(self.stem, e.name) and e.name + names.SIDECAR in present
        ]
        metas = self._sidecars([e.name for e in backups])
        out = []
        for e in entries:
            if not names.parse(self.stem, e.name):
                continue
            meta = metas.get(e.name)
            created = parse_iso(meta.get("created_at")) if meta else None
            out.append(
                RemoteCopy(
                    e.name,
                    e.size,
                    meta["sha256"] if meta else None,
                    created or e.modtime,
                    meta is not None,
                    bool(meta and meta.get("verified") is True),
                    meta or {},
                )
            )
        out.sort(key=lambda c: (c.created or datetime.min.replace(tzinfo=UTC), c.name))
        return out

    def read_sidecar(self, name: str) -> dict[str, Any] | None:
        res = self.rclone.run(
            ["cat", "--count", str(MAX_SIDECAR + 1), self.path(name + names.SIDECAR)],
            timeout=LIST_TIMEOUT,
            ok=(0, 3, 4),
        )
        return None if res.code else parse_sidecar(res.stdout, name)

    def server_hashes(self, name: str) -> tuple[int, dict[str, str]]:
        """(size, {hash type: hex}) of one object as the server reports it; {} when none."""
        found = [e for e in self._ls(self.path(name), "--hash") if e.name == name]
        if not found:
            raise RemoteError(f"{self.path(name)}: not on the remote", "not_found")
        return found[0].size, found[0].hashes

    # ---- writing ------------------------------------------------------------------------------

    def upload(self, local: Path, name: str, meta: dict[str, Any]) -> RemoteCopy:
        """Send `local` as `name`: temp name, moveto, verify (remote.verify), sidecar last.

        `meta` is the local sidecar (sha256, size_bytes, created_at, ...). A verification
        failure removes the copy and raises RemoteError("temporary"): the queue sends it again.
        """
        if not names.parse(self.stem, name):
            raise RemoteError(f"{name!r} is not a backup name of registry {self.stem!r}", "fatal")
        local_h = file_hashes(local)
        size = local.stat().st_size
        if meta.get("sha256") not in (None, local_h["sha256"]):
            raise RemoteError(f"{local}: changed since it was verified (sha256 differs)", "fatal")
        tmp = f".{name}{TEMP_MARK}{secrets.token_hex(6)}"
        try:
            self.rclone.run(
                ["copyto", "--no-check-dest", local_path(local), self.path(tmp)], transfer=True
            )
            self.rclone.run(["moveto", self.path(tmp), self.path(name)])
        except BaseException:
            self._forget(tmp)
            raise
        try:
            self.check_copy(name, size, local_h)
        except RemoteError:
            self._forget(name)
            raise
        sidecar = {**meta, "format": FORMAT, "name": name, "sha256": local_h["sha256"]}
        sidecar.setdefault("size_bytes", size)
        self._put_sidecar(name, sidecar)
        created = parse_iso(sidecar.get("created_at"))
        return RemoteCopy(
            name, size, local_h["sha256"], created, True, sidecar.get("verified") is True, sidecar
        )

    def check_copy(self, name: str, size: int, local_h: dict[str, str]) -> str:
        """Size plus a server-side hash where the backend has one, else a download check.
        Returns how it was checked ("md5", "sha1", "download"); RemoteError when it differs."""
        if self.remote.verify == "hash":
            remote_size, hashes = self.server_hashes(name)
            if remote_size != size:
                raise RemoteError(
                    f"{self.path(name)}: {remote_size} bytes on the remote, {size} sent",
                    "temporary",
                )
            for algo in ("sha1", "md5"):
                if algo in hashes:
                    if hashes[algo].lower() != local_h[algo]:
                        raise RemoteError(
                            f"{self.path(name)}: {algo} on the remote differs from the sent file",
                            "temporary",
                        )
                    return algo
        with tempfile.TemporaryDirectory(prefix="zarchd-remote-") as tmp:
            back = Path(tmp) / "check"
            self.download(name, back)
            if file_hashes(back)["sha256"] != local_h["sha256"]:
                raise RemoteError(
                    f"{self.path(name)}: the copy read back differs from the sent file",
                    "temporary",
                )
        return "download"

    def _put_sidecar(self, name: str, meta: dict[str, Any]) -> None:
        with tempfile.TemporaryDirectory(prefix="zarchd-remote-") as tmp:
            path = Path(tmp) / "sidecar.json"
            path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
            self.rclone.run(
                ["copyto", "--no-check-dest", str(path), self.path(name + names.SIDECAR)]
            )

    def download(self, name: str, dest: Path) -> None:
        """Fetch `name` into `dest` (a temporary path the caller owns and then checks)."""
        self.rclone.run(
            ["copyto", "--no-check-dest", self.path(name), local_path(dest)], transfer=True
        )

    def delete(self, name: str) -> None:
        """Sidecar first (the copy stops counting), then the copy; absent ones are no error."""
        if not self.remote.delete:
            raise RemoteError(f"remote {self.remote.name!r} has delete = false", "fatal")
        for obj in (name + names.SIDECAR, name):
            self.rclone.run(["deletefile", self.path(obj)], ok=(0, 3, 4))

    def _forget(self, obj: str) -> None:
        """Best effort removal of a half-sent object; a later cleanup() catches what stays."""
        with contextlib.suppress(RemoteError):
            self.rclone.run(["deletefile", self.path(obj)], timeout=60, ok=(0, 3, 4))

    def cleanup(self, older_than: float, now: datetime) -> _List[str]:
        """Remove stray upload temporaries older than `older_than` seconds (never a fresh one:
        another process may be sending it) and, on S3, orphan multipart uploads."""
        removed: _List[str] = []
        if not self.remote.delete:
            return removed
        cutoff = now - timedelta(seconds=older_than)
        for e in self._ls(self.dir, "--max-depth", "1"):
            if _TEMP.match(e.name) and e.modtime is not None and e.modtime < cutoff:
                self.rclone.run(["deletefile", self.path(e.name)], ok=(0, 3, 4))
                removed.append(e.name)
        hours = max(1, int(older_than // 3600))
        # only the S3 backend has this command; any other says so and nothing happens
        with contextlib.suppress(RemoteError):
            self.rclone.run(
                ["backend", "cleanup", "-o", f"max-age={hours}h", self.remote.target],
                timeout=LIST_TIMEOUT,
            )
        return removed

    # ---- fleet --------------------------------------------------------------------------------

    def hosts(self) -> _List[HostPrefix]:
        """Every `<host>/<stem>/` under the target with complete copies (default layout only)."""
        entries = self._ls(
            self.remote.target, "-R", "--max-depth", "3", "--include", "*" + names.SIDECAR
        )
        groups: dict[tuple[str, str], _List[_Entry]] = {}
        for e in entries:
            parts = e.name.split("/")
            if len(parts) != 3:
                continue
            host, stem, file = parts
            if names.parse(stem, file[: -len(names.SIDECAR)]):
                groups.setdefault((host, stem), []).append(e)
        out = []
        for (host, stem), items in sorted(groups.items()):
            newest = max(items, key=lambda e: e.modtime or datetime.min.replace(tzinfo=UTC))
            out.append(
                HostPrefix(
                    host,
                    stem,
                    len(items),
                    newest.name.split("/")[-1][: -len(names.SIDECAR)],
                    newest.modtime,
                )
            )
        return out
