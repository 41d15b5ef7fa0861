"""The verbs (backup, migrate, restore, ...) shared by the daemon and `zarchctl --local`.

One implementation, two transports: the daemon calls these from its control server and jobs,
the CLI calls them in-process under the same single-writer lock. Every verb returns a JSON-able
dict and raises ZarchError subclasses for expected failures; every failure is recorded so
`status` shows it as the last error. Registry-writing verbs are serialised by one re-entrant
lock, so inside the daemon two never run at once.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from zarchd import backups, migrations
from zarchd.app import joblog
from zarchd.app.prunesummary import prune_result
from zarchd.app.results import (
    BackupJson,
    BackupResult,
    BackupsResult,
    CheckResult,
    DriftJson,
    HealthResult,
    IgnoredJson,
    JobLogResult,
    MigrateResult,
    MigrationRunJson,
    PendingSqlJson,
    PruneResult,
    RemoteFleetResult,
    RemoteListResult,
    RepairResult,
    RestoreResult,
    RollbackResult,
    StatusReport,
    VerifiedJson,
    VerifyResult,
)
from zarchd.app.state import HISTORY_LIMIT, State
from zarchd.backups.choose import choose_backup
from zarchd.backups.meta import BackupInfo
from zarchd.backups.retention import Decision
from zarchd.backups.storage import BackupStore, LocalDirectory
from zarchd.core.appversion import app_version
from zarchd.core.clock import Clock, iso, parse_iso, utcnow
from zarchd.core.config import Config
from zarchd.core.errors import (
    Cancelled,
    ConfigError,
    IntegrityFailure,
    LockHeld,
    NotFound,
    RegistryError,
    UsageError,
    ZarchError,
)
from zarchd.core.progress import Progress, no_progress
from zarchd.db.lock import GuardedRLock
from zarchd.db.registry import check_file, connect, journal_path
from zarchd.migrations.gate import Wait as BackupWait

log = logging.getLogger(__name__)
# Refused requests (bad usage, unmet precondition, another writer): the caller's answer, kept
# in the job history but never `status`'s last error.
REFUSALS = (UsageError, ConfigError, NotFound, LockHeld)
# A success that also settles another job's failure: a registry replaced by a backup (checked
# once in place) is no longer the file a failed check, restore or recover was about.
SETTLES: dict[str, tuple[str, ...]] = {
    "recover": ("check", "restore"),
    "restore": ("check", "recover"),
}


class Operations:
    def __init__(self, config: Config, *, now: Clock = utcnow, state: State | None = None) -> None:
        self.config = config
        self.now = now
        self.state = state or State(config.state_dir)
        # The daemon sets write_lock.guard: every job first re-checks the registry's writer lock.
        self.write_lock = GuardedRLock()
        # Set when the daemon stops: a running backup copy aborts and cleans up.
        self.cancel = threading.Event()
        self.resumed: str | None = None  # a recovery a crash interrupted, finished at start
        self._store: tuple[Path, BackupStore] | None = None
        # Told each job record once it is saved (the daemon's alerts); never fails the job.
        self.on_job: Callable[[dict[str, Any]], None] | None = None

    # ---- helpers --------------------------------------------------------------------------

    @property
    def registry(self) -> Path:
        return self.config.registry_path

    @property
    def backup_dir(self) -> Path:
        return self.config.backup_dir

    @property
    def store(self) -> BackupStore:
        """Where backups live: built from the config once (again after a reload moved it)."""
        if self._store is None or self._store[0] != self.config.backup_dir:
            index = self.config.state_dir / "sidecar-index.json"  # listing reads changed only
            self._store = (self.config.backup_dir, LocalDirectory(self.config.backup_dir, index))
        return self._store[1]

    def catalog(self) -> list[migrations.Migration]:
        return migrations.load_catalog(self.config.migrations.dir)

    def pending_migrations(self) -> list[migrations.Migration]:
        """What `migrate` would apply now (reads the registry, never writes)."""
        return migrations.inspect(self.registry, self.catalog()).pending

    def newest_backup_at(self) -> datetime | None:
        """When zarchd's newest backup was taken, from its listing (the daemon's catch-up
        decision when its state file has no record)."""
        latest = backups.latest_backup(self.registry, self.store)
        return latest.created_at if latest else None

    def app_version(self) -> str:
        return app_version(self.config.migrations.app_version_file)

    @contextlib.contextmanager
    def _job(self, job: str, **details: Any) -> Iterator[dict[str, Any]]:
        """Record the job in the history and the log (one line when it starts, one when it
        ends, whoever asked); a failure also becomes `status`'s last error. The body may put
        `ok: False` and an `error` in `extra` for a job that ran but found a problem."""
        details.setdefault("reason", "manual")
        log.info("%s (%s) started", job, details["reason"])
        started = time.monotonic()
        extra: dict[str, Any] = {}
        try:
            yield extra
        except Cancelled as exc:  # the daemon is stopping: history, not an error to show
            self._record(job, False, started, cancelled=exc.message, **details)
            raise
        except REFUSALS as exc:  # the caller's answer (issue 13), not the daemon's error
            self._record(job, False, started, refused=exc.message, **details)
            raise
        except ZarchError as exc:
            if job == "backup" and isinstance(exc, IntegrityFailure):
                # The copy of the registry failed its check: the daemon found it damaged, and
                # status must not show an older "ok" (nor a quick_check's) over that.
                self._remember_check(False, [exc.message], "backup copy check", self._fingerprint())
            self._record(job, False, started, error=exc.message, **details)
            raise
        ok = bool(extra.pop("ok", True))
        self._record(job, ok, started, **details, **extra)

    def _record(self, job: str, ok: bool, started: float, **details: Any) -> None:
        details.setdefault("reason", "manual")
        entry = {
            "job": job,
            "ok": ok,
            "at": iso(self.now()),
            "duration_s": round(time.monotonic() - started, 3),
            **details,
        }
        if ok:
            self._resolve(job, entry)
        # Logged before it enters the history: whoever sees it in `log` finds its log line too.
        joblog.log_end(entry)
        self.state.record_job(entry)
        if not ok and "error" in details:
            self.state.update(
                last_error={"at": entry["at"], "job": job, "message": details.get("error", "")}
            )
        if self.on_job is not None:
            try:
                self.on_job(entry)
            except Exception:  # an alert is never worth a job: logged, and the job stands
                log.exception("telling the alerts about job %s failed", job)

    def _resolve(self, job: str, entry: dict[str, Any]) -> None:
        """A success of the job that failed last clears the current error; the history entry
        of that success says which error it resolved, and status keeps it as resolved."""
        last = self.state.get("last_error")
        if not isinstance(last, dict) or last.get("job") not in {job, *SETTLES.get(job, ())}:
            return
        resolved = {**last, "resolved_at": entry["at"]}
        entry["resolved"] = resolved
        self.state.update(last_error=None, last_resolved_error=resolved)

    def _require_registry(self) -> None:
        missing = self.missing_problem()
        if missing:
            raise RegistryError(missing)
        if not self.registry.exists():
            raise RegistryError(
                f"the registry {self.registry} does not exist; run `zarchctl migrate` to create it"
                " or set registry.path / ZARCH_REGISTRY"
            )

    def registry_had_data(self) -> bool:
        """A registry with data existed here: backups of it, or state from working on it."""
        if backups.backed_up_with_data(self.registry, self.store):
            return True
        state = self.state.snapshot()
        return bool(state.get("last_backup") or state.get("migrated_app_version"))

    def empty_problem(self) -> str | None:
        """Why a 0-byte registry is damage here (it held data), or None."""
        return backups.empty_registry_problem(
            self.registry, self.store, had_data=self.registry_had_data()
        )

    def absent_problem(self) -> str | None:
        """Why a command other than migrate must not touch this path: no registry is there and
        none ever was (no backups of it, no records): a mistyped path, most likely. Reads only
        (stat, a directory listing, the state file): creates nothing."""
        if self.registry.exists() or self.registry_had_data():
            return None
        return (
            f"the registry {self.registry} does not exist (a mistyped registry.path or "
            f"ZARCH_REGISTRY?); nothing was done. `zarchctl migrate` creates a new one there"
        )

    def missing_problem(self) -> str | None:
        """Why a missing registry must not be created empty (it held data), or None."""
        if self.registry.exists() or not self.registry_had_data():
            return None
        return (
            f"the registry {self.registry} is missing, but a registry with data was there "
            f"(zarchd has backups or records of it); run `zarchctl recover` to restore the "
            f"newest good backup (or `zarchctl migrate` to start a new, empty registry)"
        )

    def remove_leftovers(self) -> None:
        """Temporary files a killed backup, restore or salvage left behind, and sidecars whose
        backup is gone. Only call this while holding the registry's writer lock: then no other
        zarchd process can be writing them.

        A recovery a crash interrupted is finished (or undone) first: its prepared copy is one
        of these files, and it must not go while the registry is missing."""
        try:
            resumed = backups.resume_swap(self.registry)
        except ZarchError as exc:
            log.error("%s", exc.message)
            return  # keep every file for a person to look at
        except OSError as exc:
            log.error("cannot finish an interrupted recovery of %s: %s", self.registry, exc)
            return
        if resumed:
            log.warning("%s", resumed)
            self.resumed = resumed  # `recover` reports it
        stem = self.registry.stem
        leftovers = self.store.remove_temps(stem)
        if self.registry.parent != self.backup_dir and self.registry.parent.is_dir():
            leftovers += backups.remove_temp_files(self.registry.parent, stem)  # restore copies
        for leftover in leftovers:
            log.info("removed %s, left by a run that was stopped mid-way", leftover.name)
        for orphan in self.store.remove_orphan_sidecars(stem):
            log.info("removed %s: its backup is gone (a run stopped mid-way)", orphan.name)

    def check_backup_dir(self) -> None:
        """UnsafeDirectory (exit 2) when other users could plant or swap files in it."""
        self.store.check()

    def settle_hot_journal(self) -> None:
        """Roll back what a writer killed mid-transaction left in `<registry>-journal`.

        Read-only connections (status, backups) cannot undo a hot journal; opening the registry
        for writing and reading one row does, as SQLite does for any writer. Rollback-journal
        mode only, so this never checkpoints a WAL.
        """
        journal = journal_path(self.registry)
        if _size(journal) == 0:
            return  # no journal (or an empty, finished one): nothing to settle
        try:
            conn = connect(self.registry, timeout=1.0)
        except ZarchError:
            return  # the registry went away meanwhile
        try:
            # A hot journal is rolled back by this read; a live writer's journal just makes us
            # wait a moment. Either way nothing of the application's is changed.
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            log.debug(
                "the registry is busy (%s); a hot journal, if any, is left to the next writer", exc
            )
        finally:
            conn.close()
        if _size(journal) == 0:
            log.info("rolled back an unfinished transaction left in %s", journal.name)

    def _backup_first(
        self, progress: Progress, reason: str, job_reason: str = ""
    ) -> tuple[
        Callable[[list[migrations.Migration]], BackupWait | None],
        dict[str, str],
        Callable[[], None],
    ]:
        """The engine's before_apply hook: one backup before the first change; its name kept.
        The copy is made in the hook; its check runs beside the first step, whose COMMIT waits
        for it (the function returned; see migrations/gate.py). The third: call it once the
        engine returned (no transaction open): the backup's job is recorded then (its log line,
        state and hooks: status, run from a hook, must not read a registry locked by us)."""
        taken: dict[str, str] = {}
        later: list[Callable[[], None]] = []

        def settle() -> None:
            for record in later:
                record()
            later.clear()

        def before_apply(pending: list[migrations.Migration]) -> BackupWait | None:
            # The start line of a migration run (the daemon and zarchctl alike).
            log.info(
                "applying %d pending migration(s) (%s): %s",
                len(pending),
                job_reason or reason,
                ", ".join(m.id for m in pending),
            )
            same = self._backup_of_unchanged_registry()
            if same is not None:  # e.g. a retried auto-migration: the copy would be identical
                log.info(
                    "the registry is unchanged since backup %s: using it as the backup before %s",
                    same.name,
                    reason,
                )
                taken["name"] = same.name
                return None
            wait, record = self._begin_backup(progress, reason, taken)
            later.append(record)
            return wait

        return before_apply, taken, settle

    def _backup_args(self, progress: Progress, reason: str) -> dict[str, Any]:
        """take_backup's and begin_backup's options, once the registry is known not to be
        empty (never a 0-byte "backup" over the good ones)."""
        empty = self.empty_problem()
        if empty:
            raise IntegrityFailure(f"registry is damaged, no backup taken: {empty}")
        return {
            "now": self.now,
            "progress": progress,
            "reason": reason,
            "cancel": self.cancel,
            "full_check_every_s": self.config.backup.full_check_every,
        }

    def _begin_backup(
        self, progress: Progress, reason: str, taken: dict[str, str]
    ) -> tuple[BackupWait, Callable[[], None]]:
        """backup(), split: the copy now, its check and publication in a thread. Returns the
        wait for them (see migrations/gate.py) and the recording of the job, to be called once
        the engine is done (under the same write lock; it waits for the backup too)."""
        self._require_registry()
        self.check_backup_dir()
        job = contextlib.ExitStack()
        extra = job.enter_context(self._job("backup", reason=reason))
        try:
            copied = backups.begin_backup(
                self.registry, self.store, **self._backup_args(progress, reason)
            )
        except BaseException:
            job.__exit__(*sys.exc_info())
            raise
        future = backups.finish_in_background(copied)

        def wait(limit: float | None) -> bool:
            import concurrent.futures  # not at start-up: listing never gets here (issue 16)

            if not concurrent.futures.wait([future], timeout=limit).done:
                return False
            taken["name"] = future.result().name  # or raises the backup's error
            return True

        def record() -> None:
            try:
                with job:  # records a failure too, then raises it: said already by the engine
                    info = future.result()
                    extra["name"] = info.name
                    extra["size_bytes"] = info.size_bytes
            except ZarchError:
                return
            self.state.update(
                last_backup={
                    "name": info.name,
                    "at": iso(info.created_at),
                    "fingerprint": info.fingerprint,
                }
            )

        return wait, record

    def _backup_of_unchanged_registry(self) -> backups.BackupInfo | None:
        """The newest verified backup of ours when the registry has not changed since it was
        taken (same fingerprint as recorded in its sidecar), else None."""
        latest = backups.latest_backup(self.registry, self.store)
        if latest is None or latest.verified is not True or not latest.fingerprint:
            return None
        try:
            current = backups.fingerprint(self.registry)
        except RegistryError:
            return None
        return latest if current == latest.fingerprint else None

    # ---- backups --------------------------------------------------------------------------

    def backup(
        self, *, progress: Progress = no_progress, reason: str = "manual", force: bool = True
    ) -> BackupResult:
        """Take a backup; unless forced, skip it when the registry is unchanged since the last."""
        self._require_registry()
        self.check_backup_dir()
        with self.write_lock:
            if not force and backups.fingerprint(self.registry) == self._last_fingerprint():
                return {"skipped": True, "reason": "unchanged since the last backup"}
            with self._job("backup", reason=reason) as extra:
                info = backups.take_backup(
                    self.registry, self.store, **self._backup_args(progress, reason)
                )
                extra["name"] = info.name
                extra["size_bytes"] = info.size_bytes
            self.state.update(
                last_backup={
                    "name": info.name,
                    "at": iso(info.created_at),
                    "fingerprint": info.fingerprint,
                }
            )
            return {"skipped": False, "backup": cast(BackupJson, info.to_json())}

    def _last_fingerprint(self) -> str | None:
        last = self.state.get("last_backup") or {}
        if last.get("fingerprint"):
            return str(last["fingerprint"])
        latest = backups.latest_backup(self.registry, self.store)
        return latest.fingerprint if latest else None

    def backups(self, last: int | None = None) -> BackupsResult:
        """Every listed backup, oldest first; `last` keeps only the newest N of them."""
        where, items, ignored = self.listed_backups(last)
        return {
            "dir": where,
            "backups": [cast(BackupJson, b.to_json()) for b in items],
            "ignored": cast(list[IgnoredJson], ignored),
        }

    def listed_backups(
        self, last: int | None = None
    ) -> tuple[str, list[BackupInfo], list[dict[str, str]]]:
        """`backups`' answer before it becomes JSON (the directory, the records, what was
        ignored): `zarchctl backups --local` prints its text straight from the records."""
        if last is not None and last < 1:
            raise UsageError(f"--last {last}: expected a count of at least 1")
        self.check_backup_dir()
        ignored: list[dict[str, str]] = []
        items = backups.list_backups(self.registry, self.store, ignored)
        if last is not None:
            items = items[-last:]
        return str(self.store), items, ignored

    def prune(
        self, *, dry_run: bool = False, progress: Progress = no_progress, reason: str = "manual"
    ) -> PruneResult:
        if dry_run:
            return prune_result(True, *self.prune_preview(), [])
        self.check_backup_dir()
        with self.write_lock:
            ignored: list[dict[str, str]] = []
            listed = backups.list_backups(self.registry, self.store, ignored)  # listed once
            listing = (listed, ignored)
            with self._job("prune", reason=reason) as extra:
                decisions = backups.prune(
                    self.registry, self.store, self.config.retention, now=self.now, listing=listing
                )
                deleted = extra["deleted"] = [d.name for d in decisions if not d.keep]
                result = prune_result(False, decisions, listed, deleted)
                extra["freed_bytes"] = result["freed_bytes"]  # a file shared by names: once
            return result

    def prune_preview(self) -> tuple[list[Decision], list[BackupInfo]]:
        """`prune --dry-run`'s answer before it becomes JSON: the decisions and the listing they
        were made on (`zarchctl prune --dry-run --local` prints its text straight from them)."""
        self.check_backup_dir()
        with self.write_lock:
            ignored: list[dict[str, str]] = []
            listed = backups.list_backups(self.registry, self.store, ignored)  # listed once
            decisions = backups.prune(
                self.registry,
                self.store,
                self.config.retention,
                now=self.now,
                dry_run=True,
                listing=(listed, ignored),
            )
            return decisions, listed

    def verify(self, name: str | None = None, *, progress: Progress = no_progress) -> VerifyResult:
        """Re-hash and integrity-check backups (verification results are written to sidecars)."""
        self.check_backup_dir()
        with self.write_lock, self._job("verify", **({"name": name} if name else {})) as extra:
            if name is not None:  # and every other name of the same file (identical backups)
                one = backups.resolve_name(self.registry, self.store, name)
                same = [
                    b
                    for b in backups.list_backups(self.registry, self.store)
                    if b.ours and one.ident is not None and b.ident == one.ident
                ]
                targets = same if any(b.name == one.name for b in same) else [one]
            else:
                targets = [b for b in backups.list_backups(self.registry, self.store) if b.ours]
            results: list[VerifiedJson] = []
            for info in targets:  # each reports its own stages (hash, check), named after it
                res = backups.verify_backup(info, now=self.now, store=self.store, progress=progress)
                results.append({"name": res.name, "ok": res.ok, "problems": list(res.problems)})
            bad = [r["name"] for r in results if not r["ok"]]
            extra["verified"] = len(results)
            if bad:  # recorded as a failed job: the last error, and an ERROR line in the log
                extra.update(ok=False, error=f"bad backup(s): {', '.join(bad)}")
        return {"results": results, "bad": bad}

    # ---- restore / recover ----------------------------------------------------------------

    def restore(
        self,
        name: str | None = None,
        *,
        to: str | None = None,
        before: str | None = None,
        force: bool = False,
        remote: str | None = None,
        host: str | None = None,
        progress: Progress = no_progress,
    ) -> RestoreResult:
        """Put backup `name` (`latest`, or the newest taken `before` an ISO time) back as the
        registry; with `to`, write a checked copy at that path instead (registry untouched);
        with `remote` (--from), a copy fetched from that remote."""
        if remote is not None or host is not None:
            if before is not None or force:
                raise UsageError("--before and --force go with local backups, not --from REMOTE")
            if name is None:
                raise UsageError("name a copy from `zarchctl remote list`, or `latest`")
            return self.restore_remote(name, remote, host, to, progress=progress)
        self.check_backup_dir()
        moment = parse_iso(before) if before is not None else None
        if before is not None and moment is None:
            raise UsageError(f"--before {before}: expected an ISO 8601 time with its offset")
        if to is not None:  # a copy to look at: no lock, no job, nothing of the registry's
            from zarchd.backups.restore_to import restore_to  # not needed by listing: see above

            info = choose_backup(self.registry, self.store, name, moment)
            copied = restore_to(
                self.registry, self.store, info, Path(to), force=force, progress=progress
            )
            return cast(RestoreResult, copied)
        asked = name if name is not None else f"newest before {before}"
        with self.write_lock, self._job("restore", name=asked) as extra:
            name = choose_backup(self.registry, self.store, name, moment).name
            extra["restored"] = name
            result = backups.restore_backup(
                self.registry, self.store, name, now=self.now, progress=progress
            )
            self.state.update(last_backup=None)
            result["migrated"] = self._migrate_after_restore(result, progress)
            self._check_replaced()
            return cast(RestoreResult, result)

    def restore_remote(
        self,
        name: str,
        remote: str | None,
        host: str | None = None,
        to: str | None = None,
        *,
        progress: Progress = no_progress,
    ) -> RestoreResult:
        """`restore --from REMOTE`: fetched, checked, then as a local restore."""
        if remote is None:
            raise UsageError("--host goes with --from REMOTE")
        self.check_backup_dir()
        # Imported here, as in the other remote and restore verbs: listing and pruning need
        # none of it, and it costs their start-up ~15 ms (issue 16).
        from zarchd.app import remote_restore

        if to is not None:  # a copy to look at, as a local --to: no lock, no job, no registry
            copied = remote_restore.restore_from_remote(
                self.config, self.store, name, remote, host, to, now=self.now, progress=progress
            )
            return cast(RestoreResult, copied)
        with self.write_lock, self._job("restore", name=name, remote=remote):
            result = remote_restore.restore_from_remote(
                self.config, self.store, name, remote, host, None, now=self.now, progress=progress
            )
            self.state.update(last_backup=None)  # the registry was replaced
            result["migrated"] = self._migrate_after_restore(result, progress)
            self._check_replaced()
            return cast(RestoreResult, result)

    def remote_list(self, remote: str | None = None) -> RemoteListResult:
        from zarchd.app import remote_view

        return remote_view.remote_list(self.config, remote)

    def remote_fleet(self, remote: str | None = None) -> RemoteFleetResult:
        from zarchd.app import remote_view

        return remote_view.remote_fleet(self.config, remote, now=self.now)

    def recover(self, *, progress: Progress = no_progress) -> RestoreResult:
        self.check_backup_dir()
        with self.write_lock, self._job("recover") as extra:
            resumed, self.resumed = self.resumed, None
            try:
                result = backups.recover_registry(
                    self.registry,
                    self.store,
                    now=self.now,
                    progress=progress,
                    fallback=self._remote_fallback if self.config.remotes else None,
                )
            except UsageError:
                if resumed is None:
                    raise
                # Nothing left to recover because the interrupted recovery was just finished.
                result = {"registry": str(self.registry), "resumed": resumed, "restored": None}
            extra["restored"] = result.get("restored")
            self.state.update(last_backup=None)
            result["migrated"] = self._migrate_after_restore(result, progress)
            self._check_replaced()
            return cast(RestoreResult, result)

    def _remote_fallback(
        self,
        mode: int,
        stack: contextlib.ExitStack,
        skipped: list[dict[str, Any]],
        progress: Progress,
    ) -> tuple[Path, str] | None:
        """recover: no local backup verifies, so the newest checked copy on a remote."""
        from zarchd.app import remote_restore

        return remote_restore.recover_fallback(
            self.config, self.store, self.registry, mode, stack, self.now, progress, skipped
        )

    def _migrate_after_restore(
        self, restored: dict[str, Any], progress: Progress
    ) -> list[dict[str, Any]]:
        """An old backup comes back at the current schema (no second backup: one was taken)."""
        try:
            result = migrations.migrate(
                self.registry,
                self.catalog(),
                timeout=self.config.migrations.timeout,
                app_version=self.app_version(),
                progress=progress,
            )
        except ZarchError as exc:
            safety = restored.get("safety_backup")
            raise type(exc)(
                f"the registry was replaced by {restored.get('restored')}, but bringing it to "
                f"the current schema failed: {exc.message}"
                + (f"\nThe registry as it was before is in {safety}." if safety else "")
            ) from exc
        return result.applied

    # ---- migrations -----------------------------------------------------------------------

    def migrate(
        self,
        *,
        dry_run: bool = False,
        backup_only: bool = False,
        progress: Progress = no_progress,
        reason: str = "manual",
    ) -> MigrateResult:
        catalog = self.catalog()
        if dry_run or backup_only:
            status = migrations.inspect(self.registry, catalog)
            pending: list[PendingSqlJson] = [
                {"id": m.id, "name": m.name, "sql": m.up_sql} for m in status.pending
            ]
            if dry_run:
                return {
                    "dry_run": True,
                    "pending": pending,
                    "applied": [],
                    "schema_version": status.schema_version,
                }
            taken = self.backup(progress=progress, reason="pre-migrate")
            return {
                "backup_only": True,
                "backup": taken["backup"],
                "pending": pending,
                "applied": [],
                "schema_version": status.schema_version,
            }
        with self.write_lock:
            return self._apply(catalog, progress, reason)

    def _apply(
        self, catalog: list[migrations.Migration], progress: Progress, reason: str
    ) -> MigrateResult:
        try:
            self.registry.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise RegistryError(
                f"cannot create the registry directory {self.registry.parent}: "
                f"{exc.strerror or exc}"
            ) from exc
        before_apply, taken, settle = self._backup_first(progress, "pre-migrate", reason)
        store = self.store  # as it is now: a reload may change it meanwhile
        started = time.monotonic()
        try:
            try:
                result = migrations.migrate(
                    self.registry,
                    catalog,
                    timeout=self.config.migrations.timeout,
                    app_version=self.app_version(),
                    progress=progress,
                    before_apply=before_apply,
                )
            finally:
                settle()  # the backup's job, now that no transaction is open
        except ZarchError as exc:
            message = exc.message
            if taken:
                message += (
                    f"\nA backup taken before migrating is {taken['name']} in "
                    f"{store}; to go back to it: zarchctl restore {taken['name']}"
                )
            self._record("migrate", False, started, reason=reason, error=message)
            raise type(exc)(message) from exc
        self.state.update(migrated_app_version=self.app_version())
        if result.applied:
            self._record(
                "migrate",
                True,
                started,
                reason=reason,
                applied=[a["id"] for a in result.applied],
                durations={a["id"]: a["duration_s"] for a in result.applied if "duration_s" in a},
                # each migration's own time: `zarchctl log` and the daemon's log show them
                timings=[
                    {"id": a["id"], "duration_s": a["duration_s"]}
                    for a in result.applied
                    if "duration_s" in a
                ],
                schema_version=result.schema_version,
            )
        return {
            "dry_run": False,
            "applied": cast(list[MigrationRunJson], result.applied),
            "backup": taken.get("name"),
            "recorded_present": result.skipped_present,
            "schema_version": result.schema_version,
        }

    def rollback(self, to: str, *, progress: Progress = no_progress) -> RollbackResult:
        self._require_registry()
        catalog = self.catalog()
        with self.write_lock, self._job("rollback", to=to) as extra:
            before_apply, taken, settle = self._backup_first(progress, "pre-rollback")
            try:
                result = migrations.rollback(
                    self.registry,
                    catalog,
                    to,
                    timeout=self.config.migrations.timeout,
                    progress=progress,
                    before_apply=before_apply,
                )
            finally:
                settle()
            extra["reverted"] = [a["id"] for a in result.applied]
            return {
                "reverted": cast(list[MigrationRunJson], result.applied),
                "backup": taken.get("name"),
                "schema_version": result.schema_version,
            }

    # ---- checks ---------------------------------------------------------------------------

    def check(self, *, reason: str = "manual") -> CheckResult:
        """Full PRAGMA integrity_check of the registry now; the result is remembered for status.

        A registry another process keeps locked raises RegistryError ("could not check"): that
        is not damage, and must never lead anyone to `recover` a sound registry.
        """
        self._require_registry()
        log.info("check (%s) started", reason)
        started = time.monotonic()
        # Under the write lock: a check racing our own restore or recover would see a registry
        # that is briefly missing or locked and report a false error.
        with self.write_lock:
            self.settle_hot_journal()
            try:
                # Taken before the check: a commit during it makes status call the answer stale.
                seen = self._fingerprint()
                empty = self.empty_problem()
                problems = [empty] if empty else check_file(self.registry)
            except ZarchError as exc:
                self._record("check", False, started, reason=reason, error=exc.message)
                raise
        ok = problems == ["ok"]
        self._remember_check(ok, problems, "integrity_check", seen)
        self._record(
            "check",
            ok,
            started,
            reason=reason,
            **({} if ok else {"error": "; ".join(problems), "damaged": True}),
        )
        # Schema validation: what the recorded migrations should have made, against what is there.
        schema = migrations.inspect(self.registry, self.catalog()) if ok else None
        return {
            "ok": ok,
            "problems": [] if ok else problems,
            "path": str(self.registry),
            "schema_drift": cast(list[DriftJson], schema.drift if schema else []),
            "unreadable_by_7zarch_go": cast(list[DriftJson], schema.unreadable if schema else []),
        }

    def _fingerprint(self) -> str | None:
        try:
            return backups.fingerprint(self.registry)
        except RegistryError:
            return None

    def _remember_check(self, ok: bool, problems: list[str], method: str, seen: str | None) -> None:
        """What status reports as the registry's integrity, with the file it was found on."""
        entry: dict[str, Any] = {"at": iso(self.now()), "ok": ok, "problems": problems}
        entry["method"] = method
        if seen:
            entry["fingerprint"] = seen
        self.state.update(last_check=entry)

    def _check_replaced(self) -> None:
        """After restore/recover: the new registry's integrity shows at once, not the old
        file's damage (a quick_check: the restored copy was verified when it was taken)."""
        seen = self._fingerprint()
        try:
            problems = check_file(self.registry, quick=True)
        except ZarchError as exc:
            log.warning("cannot check the restored registry: %s", exc.message)
            self.state.update(last_check=None)
            return
        self._remember_check(problems == ["ok"], problems, "quick_check", seen)

    def repair(self, *, dry_run: bool = False, progress: Progress = no_progress) -> RepairResult:
        """Re-apply the missing, idempotent parts of recorded built-in migrations, backup first."""
        self._require_registry()
        if dry_run:
            plan = migrations.drift.inspect_repair(self.registry)
            return {
                "dry_run": True,
                "drift": _drift(plan.drift),
                "unreadable_by_7zarch_go": _drift(plan.unreadable),
                "reapply": plan.reapply,
                "refused": plan.refused,
            }
        with self.write_lock, self._job("repair") as extra:
            taken: dict[str, str] = {}

            def backup_first() -> None:
                taken["name"] = self.backup(progress=progress, reason="pre-repair")["backup"][
                    "name"
                ]

            plan = migrations.drift.repair(self.registry, backup_first)
            extra["reapplied"] = plan.reapply
            return {
                "dry_run": False,
                "drift": _drift(plan.drift),
                "unreadable_by_7zarch_go": _drift(plan.unreadable),
                "reapply": plan.reapply,
                "backup": taken.get("name"),
            }

    # ---- history --------------------------------------------------------------------------

    def job_log(self, n: int = 20) -> JobLogResult:
        """The newest `n` jobs of the history in the state file (the daemon's and --local's)."""
        if n < 1:
            raise UsageError(f"-n {n}: expected a count of at least 1")
        history = self.state.get("history") or []
        entries = [e for e in history if isinstance(e, dict)][-n:]
        return {"entries": entries, "kept": HISTORY_LIMIT}

    # ---- status ---------------------------------------------------------------------------

    def status(self) -> StatusReport:
        """The status report without a daemon (`--local`, or when none runs)."""
        from zarchd.app.status import build_status  # status.py imports this module

        return build_status(self)

    def health(self) -> HealthResult:
        """`zarchctl health --local`: from the files, no daemon needed."""
        from zarchd.app.health import health  # health.py imports this module

        return health(self, self.status())


def _size(path: Path) -> int:
    """Size of a file that may vanish at any moment (a journal); 0 when it is not there."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _drift(found: list[migrations.drift.Drift]) -> list[DriftJson]:
    return [cast(DriftJson, d.to_json()) for d in found]
