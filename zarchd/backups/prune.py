"""Apply the retention policy to the backup store (decisions in zarchd.backups.retention)."""

from __future__ import annotations

from datetime import tzinfo
from pathlib import Path

from zarchd.backups import names
from zarchd.backups.listing import list_backups
from zarchd.backups.meta import BackupInfo
from zarchd.backups.retention import NEWEST_VERIFIED, Candidate, Decision, decide
from zarchd.backups.storage import BackupStore, as_store
from zarchd.core.clock import Clock, utcnow
from zarchd.core.config import RetentionPolicy
from zarchd.core.errors import BackupError

FOREIGN = "not made by zarchd (no zarchd metadata): never deleted"


def prune(
    registry: Path,
    store: BackupStore | Path,
    policy: RetentionPolicy,
    *,
    now: Clock = utcnow,
    dry_run: bool = False,
    tz: tzinfo | None = None,
    listing: tuple[list[BackupInfo], list[dict[str, str]]] | None = None,
) -> list[Decision]:
    """Decisions for every listed backup (newest first); deletes the dropped ones unless dry_run.
    `listing`: (backups, ignored) the caller just listed under the same lock (listed once)."""
    store = as_store(store)
    if listing is None:
        ignored: list[dict[str, str]] = []
        listed = list_backups(registry, store, ignored)
    else:
        listed, ignored = listing
    ours = [b for b in listed if b.ours]
    # `ours` is in listing order (time, then the -N sequence): that order breaks time ties.
    candidates = [  # `order` by position: a keyword costs 10,000 times (issue 16)
        Candidate(b.name, b.created_at, bool(b.verified), i) for i, b in enumerate(ours)
    ]
    decisions = decide(candidates, policy, now(), tz or names.local_tz())
    foreign = [Decision(b.name, True, [FOREIGN]) for b in reversed(listed) if not b.ours]
    foreign += [Decision(i["name"], True, [f"{i['reason']}: never deleted"]) for i in ignored]
    if not dry_run:
        _delete(decisions, store)
    return decisions + foreign


def _delete(decisions: list[Decision], store: BackupStore) -> None:
    doomed = [d.name for d in decisions if not d.keep]
    protected = {d.name for d in decisions if NEWEST_VERIFIED in d.reasons}
    failed = []
    for name in doomed:  # oldest last in `decisions`; order does not matter for safety
        if name in protected:  # belt and braces: decide() never drops it
            continue
        try:
            store.delete(name)  # re-checks right before deleting: only ours, with its sidecar
        except OSError as exc:
            failed.append(f"{name}: {exc.strerror}")
    if doomed:
        store.sync()
    if failed:
        raise BackupError(f"could not delete {len(failed)} backup(s): {'; '.join(failed)}")
