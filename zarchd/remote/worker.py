"""One remote's work, one step at a time: send the next queued backup, keep the remote's copies
to the retention policy, deep-check one kept copy per `deep_verify_every`, clean stray temps.

A step never waits for anything but its own rclone calls; the thread that calls `step()` in a
loop (RemoteRunner) is the only one sending to this remote, so there is never more than one
transfer per remote at a time, and a backup or migration never waits on an upload.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from zarchd.backups.meta import read_sidecar
from zarchd.backups.retention import Candidate, decide
from zarchd.core.clock import iso, parse_iso
from zarchd.core.config import RemoteConfig, RetentionPolicy
from zarchd.core.errors import RegistryError, RemoteError
from zarchd.db.registry import check_file
from zarchd.remote.book import UploadBook
from zarchd.remote.target import RemoteCopy, RemoteTarget

log = logging.getLogger(__name__)
CLEANUP_AFTER_S = 86400.0  # stray temporaries and orphan multipart uploads: after a day


@dataclass(frozen=True)
class DeepResult:
    name: str
    ok: bool
    problem: str = ""


class RemoteWorker:
    def __init__(
        self,
        remote: RemoteConfig,
        target: RemoteTarget,
        book: UploadBook,
        policy: RetentionPolicy,
        tz: tzinfo,
        now: Callable[[], datetime],
    ) -> None:
        self.remote = remote
        self.target = target
        self.book = book
        self.policy = policy
        self.tz = tz
        self.now = now

    # ---- uploads --------------------------------------------------------------------------

    def step(self) -> bool:
        """Send the next due backup, if any. True when one was handled (sent, found already
        there, or dropped); False when nothing was due or the attempt failed (retried later)."""
        now = self.now()
        entry = self.book.due(self.remote.name, now)
        if entry is None:
            return False
        local = self.book.local_path(entry)
        meta = read_sidecar(local)
        if meta is None or meta.get("verified") is not True or meta.get("sha256") != entry.sha256:
            # pruned locally before it could leave, or no longer what was verified: never sent
            log.info("remote %s: %s is gone or changed locally; not sent", self.remote.name, local)
            self.book.remove(self.remote.name, entry.name)
            return True
        try:
            copies = self.target.list()
            # Already sent (a retry after a lost answer): this name, complete, same content.
            # Another name with the same content is still sent: each name is a backup there too
            # (restore --from NAME, the remote's newest and its age), as identical local ones are.
            if any(
                c.complete and c.name == entry.name and c.sha256 == entry.sha256 for c in copies
            ):
                log.info("remote %s: %s is already there", self.remote.name, entry.name)
            else:
                self.target.upload(local, entry.name, _remote_meta(meta))
                log.info("remote %s: %s sent", self.remote.name, entry.name)
        except RemoteError as exc:
            if exc.kind == "cancelled":
                return False  # the daemon is stopping: not a failure, the entry stays as it was
            when = self.book.failed(entry, exc.message, exc.kind, now)
            state = "failed" if not exc.retryable else "retrying"
            self.book.set_status(
                self.remote.name,
                state=state,
                last_error={"at": iso(now), "message": exc.message, "kind": exc.kind},
                next_try=iso(when),
            )
            log.warning(
                "remote %s: %s not sent (%s); next try %s",
                self.remote.name,
                entry.name,
                exc.message,
                iso(when),
            )
            return False
        except OSError as exc:  # the local file vanished mid-read: prune won the race
            log.info("remote %s: %s unreadable locally (%s)", self.remote.name, entry.name, exc)
            self.book.remove(self.remote.name, entry.name)
            return True
        self.book.remove(self.remote.name, entry.name)
        self.book.set_status(self.remote.name, state="ok", last_upload=iso(now), next_try=None)
        return True

    def drain(self) -> int:
        """Send every due backup (stops at the first failure); returns how many were handled."""
        handled = 0
        while self.step():
            handled += 1
        return handled

    # ---- retention ------------------------------------------------------------------------

    def prune(self) -> list[str]:
        """The local retention policy (or the remote's own) over this prefix's complete copies;
        the newest verified copy is always kept; `delete = false` never deletes."""
        listed = self.target.list()
        if not self.remote.delete:
            self.record_newest(listed)
            return []
        copies = [c for c in listed if c.complete and c.created is not None]
        bad = self.failed_deep()
        candidates = [  # a copy its deep check failed is no "newest verified" to keep
            Candidate(c.name, c.created, c.verified and c.name not in bad, i)  # type: ignore[arg-type]
            for i, c in enumerate(copies)
        ]
        deleted = []
        for d in decide(candidates, self.policy, self.now(), self.tz):
            if not d.keep:
                self.target.delete(d.name)
                deleted.append(d.name)
        if deleted:
            log.info("remote %s: pruned %s", self.remote.name, ", ".join(deleted))
        self.record_newest([c for c in listed if c.name not in deleted])
        return deleted

    def record_newest(self, copies: list[RemoteCopy] | None = None) -> RemoteCopy | None:
        listed = self.target.list() if copies is None else copies
        bad = self.failed_deep()
        complete = [c for c in listed if c.complete and c.verified and c.name not in bad]
        newest = complete[-1] if complete else None
        self.book.set_status(
            self.remote.name,
            newest=newest.name if newest else None,
            newest_at=iso(newest.created) if newest else None,
            copies=len(complete),
            listed_at=iso(self.now()),
        )
        return newest

    # ---- deep verification ----------------------------------------------------------------

    def failed_deep(self) -> set[str]:
        """Copies whose last deep check failed: not counted as verified copies (retention keeps
        the newest good one, status names the newest good one)."""
        names = self.book.status(self.remote.name).get("failed_deep")
        return {n for n in names if isinstance(n, str)} if isinstance(names, list) else set()

    def deep_due(self) -> bool:
        last = parse_iso((self.book.status(self.remote.name).get("deep_check") or {}).get("at"))
        return last is None or self.now() - last >= timedelta(seconds=self.remote.deep_verify_every)

    def deep_check(self) -> DeepResult | None:
        """Download one kept copy (the next after the last one checked, by name, wrapping) and
        check its sha256 against the sidecar and PRAGMA integrity_check."""
        copies = [c for c in self.target.list() if c.complete]
        if not copies:
            return None
        last = (self.book.status(self.remote.name).get("deep_check") or {}).get("name") or ""
        later = [c for c in copies if c.name > last]
        copy = (later or copies)[0]
        result = self._deep(copy)
        bad = self.failed_deep() - {copy.name} | (set() if result.ok else {copy.name})
        self.book.set_status(
            self.remote.name,
            failed_deep=sorted(bad),
            deep_check={
                "at": iso(self.now()),
                "name": copy.name,
                "ok": result.ok,
                "problem": result.problem,
            },
        )
        if not result.ok:
            log.error(
                "remote %s: deep check of %s failed: %s",
                self.remote.name,
                copy.name,
                result.problem,
            )
        return result

    def _deep(self, copy: RemoteCopy) -> DeepResult:
        with tempfile.TemporaryDirectory(prefix="zarchd-deep-") as tmp:
            path = Path(tmp) / copy.name
            self.target.download(copy.name, path)
            digest = hashlib.sha256()
            with open(path, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
            if digest.hexdigest() != copy.sha256:
                return DeepResult(copy.name, False, "sha256 differs from its sidecar")
            try:
                check = check_file(path, static=True)
            except RegistryError as exc:
                return DeepResult(copy.name, False, f"could not be checked: {exc.message}")
            if check != ["ok"]:
                return DeepResult(copy.name, False, "integrity check: " + "; ".join(check[:3]))
        return DeepResult(copy.name, True)

    # ---- housekeeping ---------------------------------------------------------------------

    def maintain(self) -> None:
        """After the queue is drained: retention, a due deep check, cleanup of stray temps."""
        try:
            self.prune()
            if self.deep_due():
                self.deep_check()
            last = parse_iso(self.book.status(self.remote.name).get("cleanup_at"))
            if last is None or (self.now() - last).total_seconds() >= CLEANUP_AFTER_S:
                self.target.cleanup(CLEANUP_AFTER_S, self.now())
                self.book.set_status(self.remote.name, cleanup_at=iso(self.now()))
        except RemoteError as exc:
            log.warning("remote %s: upkeep failed: %s", self.remote.name, exc.message)
            self.book.set_status(
                self.remote.name,
                last_error={"at": iso(self.now()), "message": exc.message, "kind": exc.kind},
            )


def _remote_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """What the remote sidecar carries: the local sidecar's facts, no local paths."""
    keep = (
        "name",
        "created_at",
        "size_bytes",
        "sha256",
        "verified",
        "schema_version",
        "fingerprint",
    )
    return {k: meta[k] for k in keep if k in meta}
