"""When a backup gets the full integrity_check instead of quick_check (`[backup] full_check_every`).

quick_check finds what makes a copy unusable (torn pages, broken b-trees) at a fraction of the
cost; integrity_check also compares every index with its table (17.8 s against 1.2 s for a
1M-row registry). Every backup gets at least quick_check; the full check runs when no backup
taken within the interval got one, so each interval ends with a fully checked backup.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from zarchd.backups.meta import BackupInfo


def full_check_due(existing: list[BackupInfo], now: datetime, every_s: float) -> bool:
    """True when the next backup must get the full integrity_check (`every_s` 0: always)."""
    if every_s <= 0:
        return True
    since = now - timedelta(seconds=every_s)
    return not any(
        b.ours and not b.untrusted and b.check == "integrity" and since < b.created_at <= now
        for b in existing
    )
