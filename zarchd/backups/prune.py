"""Apply the retention policy to the backup directory (decisions in zarchd.backups.retention)."""

from __future__ import annotations

import contextlib
from datetime import tzinfo
from pathlib import Path

from zarchd.backups import names
from zarchd.backups.listing import list_backups
from zarchd.backups.meta import read_sidecar
from zarchd.backups.retention import NEWEST_VERIFIED, Candidate, Decision, decide
from zarchd.core.clock import Clock, utcnow
from zarchd.core.config import RetentionPolicy
from zarchd.core.errors import BackupError
from zarchd.core.fsutil import fsync_dir

FOREIGN = "not made by zarchd (no zarchd metadata): never deleted"


def prune(
    registry: Path,
    backup_dir: Path,
    policy: RetentionPolicy,
    *,
    now: Clock = utcnow,
    dry_run: bool = False,
    tz: tzinfo | None = None,
) -> list[Decision]:
    """Decisions for every listed backup (newest first); deletes the dropped ones unless dry_run."""
    ignored: list[dict[str, str]] = []
    listed = list_backups(registry, backup_dir, ignored)
    ours = [b for b in listed if b.ours]
    # `ours` is in listing order (time, then the -N sequence): that order breaks time ties.
    candidates = [
        Candidate(b.name, b.created_at, bool(b.verified), order=i) for i, b in enumerate(ours)
    ]
    decisions = decide(candidates, policy, now(), tz or names.local_tz())
    foreign = [Decision(b.name, True, [FOREIGN]) for b in reversed(listed) if not b.ours]
    foreign += [Decision(i["name"], True, [f"{i['reason']}: never deleted"]) for i in ignored]
    if not dry_run:
        _delete(decisions, backup_dir)
    return decisions + foreign


def _delete(decisions: list[Decision], backup_dir: Path) -> None:
    doomed = [d.name for d in decisions if not d.keep]
    protected = {d.name for d in decisions if NEWEST_VERIFIED in d.reasons}
    failed = []
    for name in doomed:  # oldest last in `decisions`; order does not matter for safety
        if name in protected:  # belt and braces: decide() never drops it
            continue
        path = backup_dir / name
        if read_sidecar(path) is None:  # re-check right before deleting: only ours
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            failed.append(f"{name}: {exc.strerror}")
            continue
        with contextlib.suppress(FileNotFoundError):
            names.sidecar_path(path).unlink()
    if doomed:
        fsync_dir(backup_dir)
    if failed:
        raise BackupError(f"could not delete {len(failed)} backup(s): {'; '.join(failed)}")
