"""Backups of the registry: take (online, atomic, verified), list, verify, prune, restore, recover."""

from .emptiness import backed_up_with_data, empty_registry_problem
from .fingerprint import fingerprint
from .listing import latest_backup, list_backups, resolve_name
from .meta import BackupInfo
from .orphans import remove_orphan_sidecars
from .prune import prune
from .recover import recover_registry
from .restore import restore_backup
from .swap import resume_swap
from .take import remove_temp_files, take_backup
from .verify import VerifyResult, verify_backup

__all__ = ["BackupInfo", "VerifyResult", "backed_up_with_data", "empty_registry_problem",
           "fingerprint", "resume_swap", "latest_backup", "list_backups", "prune",
           "recover_registry", "remove_orphan_sidecars", "remove_temp_files", "resolve_name", "restore_backup", "take_backup",
           "verify_backup"]
