"""Registry backups: take (online, atomic, verified), list, verify, prune, restore, recover.

The names below are imported on first use (PEP 562): `zarchctl backups` of 10,000 backups needs
the listing only, and importing take, restore, recover and verify with them (and through them the
migration catalog, subprocess and concurrent.futures) cost it ~20 ms of start-up (issue 16).
`prune` is the exception, imported now: it is also the name of its submodule, and a first
`import zarchd.backups.prune` from anywhere would otherwise leave `backups.prune` the module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zarchd.backups.prune import prune
from zarchd.core.lazy import lazy_attributes

if TYPE_CHECKING:
    from zarchd.backups.background import finish_in_background
    from zarchd.backups.emptiness import backed_up_with_data, empty_registry_problem
    from zarchd.backups.listing import bytes_on_disk, latest_backup, list_backups, resolve_name
    from zarchd.backups.meta import BackupInfo
    from zarchd.backups.recover import recover_registry
    from zarchd.backups.restore import restore_backup
    from zarchd.backups.storage import BackupStore, LocalDirectory, StoredBackup
    from zarchd.backups.swap import resume_swap
    from zarchd.backups.take import CopiedBackup, begin_backup, remove_temp_files, take_backup
    from zarchd.backups.verify import VerifyResult, verify_backup
    from zarchd.db.fingerprint import fingerprint

# name -> the module that defines it
_LAZY = {
    "backed_up_with_data": "zarchd.backups.emptiness",
    "empty_registry_problem": "zarchd.backups.emptiness",
    "bytes_on_disk": "zarchd.backups.listing",
    "latest_backup": "zarchd.backups.listing",
    "list_backups": "zarchd.backups.listing",
    "resolve_name": "zarchd.backups.listing",
    "BackupInfo": "zarchd.backups.meta",
    "recover_registry": "zarchd.backups.recover",
    "restore_backup": "zarchd.backups.restore",
    "BackupStore": "zarchd.backups.storage",
    "LocalDirectory": "zarchd.backups.storage",
    "StoredBackup": "zarchd.backups.storage",
    "resume_swap": "zarchd.backups.swap",
    "finish_in_background": "zarchd.backups.background",
    "CopiedBackup": "zarchd.backups.take",
    "begin_backup": "zarchd.backups.take",
    "remove_temp_files": "zarchd.backups.take",
    "take_backup": "zarchd.backups.take",
    "VerifyResult": "zarchd.backups.verify",
    "verify_backup": "zarchd.backups.verify",
    "fingerprint": "zarchd.db.fingerprint",
}


__getattr__ = lazy_attributes(__name__, _LAZY, globals())


__all__ = [
    "BackupInfo",
    "BackupStore",
    "CopiedBackup",
    "LocalDirectory",
    "StoredBackup",
    "VerifyResult",
    "backed_up_with_data",
    "begin_backup",
    "bytes_on_disk",
    "empty_registry_problem",
    "fingerprint",
    "finish_in_background",
    "latest_backup",
    "list_backups",
    "prune",
    "recover_registry",
    "remove_temp_files",
    "resolve_name",
    "restore_backup",
    "resume_swap",
    "take_backup",
    "verify_backup",
]
