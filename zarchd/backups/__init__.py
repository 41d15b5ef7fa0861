"""Registry backups: take (online, atomic, verified), list, verify, prune, restore, recover."""

from zarchd.backups.background import finish_in_background
from zarchd.backups.emptiness import backed_up_with_data, empty_registry_problem
from zarchd.backups.listing import bytes_on_disk, latest_backup, list_backups, resolve_name
from zarchd.backups.meta import BackupInfo
from zarchd.backups.prune import prune
from zarchd.backups.recover import recover_registry
from zarchd.backups.restore import restore_backup
from zarchd.backups.storage import BackupStore, LocalDirectory, StoredBackup
from zarchd.backups.swap import resume_swap
from zarchd.backups.take import CopiedBackup, begin_backup, remove_temp_files, take_backup
from zarchd.backups.verify import VerifyResult, verify_backup
from zarchd.db.fingerprint import fingerprint

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
