"""The verbs (backup, migrate, restore, ...) shared by the daemon and `zarchctl --local`.

One implementation, two transports: the daemon calls these from its control server and jobs,
the CLI calls them in-process under the same single-writer lock. Every verb returns a JSON-able
dict and raises ZarchError subclasses for expected failures. Registry-writing verbs are
serialised by one re-entrant lock, so inside the daemon two never run at once.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from . import backups, migrations
from .appversion import app_version
from .clock import Clock, iso, utcnow
from .config import Config
from .errors import IntegrityFailure, MigrationError, RegistryError
from .progress import Progress, no_progress
from .registry import check_file
from .state import State

log = logging.getLogger(__name__)


class Operations:
    def __init__(self, config: Config, *, now: Clock = utcnow, state: State | None = None) -> None:
        self.config = config
        self.now = now
        self.state = state or State(config.state_dir)
        self.write_lock = threading.RLock()

    # ---- helpers --------------------------------------------------------------------------

    @property
    def registry(self) -> Path:
        return self.config.registry_path

    @property
    def backup_dir(self) -> Path:
        return self.config.backup_dir

    def catalog(self) -> list[migrations.Migration]:
        return migrations.load_catalog(self.config.migrations.dir)

    def app_version(self) -> str:
        return app_version(self.config.migrations.app_version_file)

    def _record(self, job: str, ok: bool, started: float, **details: Any) -> None:
        entry = {"job": job, "ok": ok, "at": iso(self.now()),
                 "duration_s": round(time.monotonic() - started, 3), **details}
        self.state.record_job(entry)
        if not ok:
            self.state.update(last_error={"at": entry["at"], "job": job,
                                          "message": details.get("error", "")})

    def _require_registry(self) -> None:
        if not self.registry.exists():
            raise RegistryError(
                f"the registry {self.registry} does not exist; run `zarchctl migrate` to create it"
                " or set registry.path / ZARCH_REGISTRY")

    # ---- backups --------------------------------------------------------------------------

    def backup(self, *, progress: Progress = no_progress, reason: str = "manual",
               force: bool = True) -> dict[str, Any]:
        """Take a backup; unless forced, skip it when the registry is unchanged since the last."""
        self._require_registry()
        with self.write_lock:
            started = time.monotonic()
            if not force:
                current = backups.fingerprint(self.registry)
                if current == self._last_fingerprint():
                    log.debug("backup (%s) skipped: registry unchanged", reason)
                    return {"skipped": True, "reason": "unchanged since the last backup"}
            try:
                info = backups.take_backup(self.registry, self.backup_dir, now=self.now,
                                           progress=progress, reason=reason)
            except Exception as exc:
                self._record("backup", False, started, reason=reason, error=str(exc))
                raise
            self.state.update(last_backup={"name": info.name, "at": iso(info.created_at),
                                           "fingerprint": info.fingerprint})
            self._record("backup", True, started, reason=reason, name=info.name)
            return {"skipped": False, "backup": info.to_json()}

    def _last_fingerprint(self) -> str | None:
        last = self.state.get("last_backup") or {}
        if last.get("fingerprint"):
            return str(last["fingerprint"])
        latest = backups.latest_backup(self.registry, self.backup_dir)
        return latest.fingerprint if latest else None

    def backups(self) -> dict[str, Any]:
        items = backups.list_backups(self.registry, self.backup_dir)
        return {"dir": str(self.backup_dir), "backups": [b.to_json() for b in items]}

    def prune(self, *, dry_run: bool = False, progress: Progress = no_progress) -> dict[str, Any]:
        with self.write_lock:
            decisions = backups.prune(self.registry, self.backup_dir, self.config.retention,
                                      now=self.now, dry_run=dry_run)
        return {"dry_run": dry_run,
                "decisions": [{"name": d.name, "keep": d.keep, "reasons": list(d.reasons)}
                              for d in decisions],
                "deleted": [] if dry_run else [d.name for d in decisions if not d.keep]}

    def verify(self, name: str | None = None, *, progress: Progress = no_progress) -> dict[str, Any]:
        if name is not None:
            targets = [backups.resolve_name(self.registry, self.backup_dir, name)]
        else:
            targets = [b for b in backups.list_backups(self.registry, self.backup_dir) if b.ours]
        results = []
        for i, info in enumerate(targets, 1):
            progress({"stage": "verify", "name": info.name, "done": i - 1, "total": len(targets)})
            res = backups.verify_backup(info)
            results.append({"name": res.name, "ok": res.ok, "problems": list(res.problems)})
        progress({"stage": "verify", "done": len(targets), "total": len(targets)})
        return {"results": results, "bad": [r["name"] for r in results if not r["ok"]]}

    # ---- restore / recover ----------------------------------------------------------------

    def restore(self, name: str, *, progress: Progress = no_progress) -> dict[str, Any]:
        with self.write_lock:
            started = time.monotonic()
            try:
                result = backups.restore_backup(self.registry, self.backup_dir, name,
                                                now=self.now, progress=progress)
                result["migrated"] = self._migrate_after_restore(progress)
            except Exception as exc:
                self._record("restore", False, started, name=name, error=str(exc))
                raise
            self._record("restore", True, started, name=name)
            self.state.update(last_backup=None)
            return result

    def recover(self, *, progress: Progress = no_progress) -> dict[str, Any]:
        with self.write_lock:
            started = time.monotonic()
            try:
                result = backups.recover_registry(self.registry, self.backup_dir, now=self.now,
                                                  progress=progress)
                result["migrated"] = self._migrate_after_restore(progress)
            except Exception as exc:
                self._record("recover", False, started, error=str(exc))
                raise
            self._record("recover", True, started, restored=result.get("restored"))
            self.state.update(last_backup=None)
            return result

    def _migrate_after_restore(self, progress: Progress) -> list[dict[str, Any]]:
        """An old backup comes back at the current schema (no second backup: the safety one exists)."""
        result = migrations.migrate(self.registry, self.catalog(),
                                    timeout=self.config.migrations.timeout,
                                    app_version=self.app_version(), progress=progress)
        return result.applied

    # ---- migrations -----------------------------------------------------------------------

    def migrate(self, *, dry_run: bool = False, backup_only: bool = False,
                progress: Progress = no_progress, reason: str = "manual") -> dict[str, Any]:
        catalog = self.catalog()
        status = migrations.inspect(self.registry, catalog)
        pending = [{"id": m.id, "name": m.name, "sql": m.up_sql} for m in status.pending]
        if dry_run:
            return {"dry_run": True, "pending": pending, "schema_version": status.schema_version,
                    "applied": []}
        with self.write_lock:
            if backup_only:
                self._require_registry()
                taken = self.backup(progress=progress, reason="pre-migrate")
                return {"backup_only": True, "backup": taken["backup"], "pending": pending,
                        "applied": [], "schema_version": status.schema_version}
            return self._apply(catalog, progress, reason)

    def _apply(self, catalog: list[migrations.Migration], progress: Progress,
               reason: str) -> dict[str, Any]:
        started = time.monotonic()
        taken: dict[str, str] = {}
        self.registry.parent.mkdir(parents=True, exist_ok=True, mode=0o700)

        def before_apply(pending: list[migrations.Migration]) -> None:
            info = self.backup(progress=progress, reason="pre-migrate")
            taken["name"] = info["backup"]["name"]

        try:
            result = migrations.migrate(self.registry, catalog,
                                        timeout=self.config.migrations.timeout,
                                        app_version=self.app_version(), progress=progress,
                                        before_apply=before_apply)
        except MigrationError as exc:
            message = exc.message
            if taken:
                message += (f"\nA backup taken before migrating is {taken['name']} in "
                            f"{self.backup_dir}; to go back to it: zarchctl restore {taken['name']}")
            self._record("migrate", False, started, reason=reason, error=message)
            raise type(exc)(message) from exc
        self.state.update(migrated_app_version=self.app_version())
        if result.applied:
            self._record("migrate", True, started, reason=reason,
                         applied=[a["id"] for a in result.applied])
        return {"dry_run": False, "applied": result.applied, "backup": taken.get("name"),
                "recorded_present": result.skipped_present,
                "schema_version": result.schema_version}

    def rollback(self, to: str, *, progress: Progress = no_progress) -> dict[str, Any]:
        self._require_registry()
        catalog = self.catalog()
        with self.write_lock:
            started = time.monotonic()
            taken: dict[str, str] = {}

            def before_apply(pending: list[migrations.Migration]) -> None:
                info = self.backup(progress=progress, reason="pre-rollback")
                taken["name"] = info["backup"]["name"]

            try:
                result = migrations.rollback(self.registry, catalog, to,
                                             timeout=self.config.migrations.timeout,
                                             progress=progress, before_apply=before_apply)
            except MigrationError as exc:
                self._record("rollback", False, started, to=to, error=exc.message)
                raise
            self._record("rollback", True, started, to=to,
                         reverted=[a["id"] for a in result.applied])
            return {"reverted": result.applied, "backup": taken.get("name"),
                    "schema_version": result.schema_version}

    # ---- checks ---------------------------------------------------------------------------

    def check(self) -> dict[str, Any]:
        """Full PRAGMA integrity_check of the registry now; the result is remembered for status."""
        self._require_registry()
        started = time.monotonic()
        problems = check_file(self.registry)
        ok = problems == ["ok"]
        self.state.update(last_check={"at": iso(self.now()), "ok": ok, "problems": problems})
        self._record("check", ok, started, **({} if ok else {"error": "; ".join(problems)}))
        return {"ok": ok, "problems": [] if ok else problems, "path": str(self.registry)}

    def require_sound(self) -> None:
        """Raise IntegrityFailure when the registry fails its check (used before risky work)."""
        result = self.check()
        if not result["ok"]:
            raise IntegrityFailure(
                f"the registry {self.registry} is damaged ({'; '.join(result['problems'][:3])}); "
                "run `zarchctl recover` to restore the newest good backup")

