#!/usr/bin/env python3
"""Reapply the one-line bugs issue 12 found the suite did not catch, and check each is caught now.

For each mutant: a scratch copy of HEAD (`git archive`, never the work tree), the change applied
there, the named tests run against that copy. "caught" means those tests failed; "survived"
means they passed with the bug in place. Exit 1 if any mutant survives (or no longer applies:
the code moved and the mutant must be updated, which is reported as "stale").

    .venv/bin/python scripts/mutants.py [NAME ...]   # all mutants, or only those named
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str
    edits: tuple[tuple[str, str], ...]  # (exact old text, replacement), each found exactly once
    tests: tuple[str, ...]


MUTANTS = [
    Mutant(
        "no-fsync-backup-copy",
        "zarchd/backups/take.py",
        (("            fsync_file(tmp)\n", "            pass  # MUTANT\n"),),
        ("tests/backups/test_durability.py::test_backup_copy_is_fsynced_before_it_is_linked",),
    ),
    Mutant(
        "no-fsync-dir-after-publish",
        "zarchd/core/fsutil.py",
        (("        os.unlink(tmp)\n    fsync_dir(final.parent)\n", "        os.unlink(tmp)\n"),),
        ("tests/backups/test_durability.py::test_backup_directory_is_fsynced_after_the_link",),
    ),
    Mutant(
        "ledger-after-commit",
        "zarchd/migrations/transaction.py",
        (
            (
                "        if up:\n            ledger.record(\n",
                "        if False:\n            ledger.record(\n",
            ),
            (
                '        conn.execute("COMMIT")\n        return StepOutcome(ran=True',
                '        conn.execute("COMMIT")\n'
                "        if up:\n"
                "            ledger.record(\n"
                "                conn, migration, duration_ms=0, app_version=app_version\n"
                "            )\n"
                "        return StepOutcome(ran=True",
            ),
        ),
        ("tests/migrations/test_atomicity.py::test_ledger_row_is_written_before_commit",),
    ),
    Mutant(
        "no-rollback-on-timeout",
        "zarchd/migrations/transaction.py",
        (
            (
                "        _rollback(conn)  # handler removed first",
                "        conn.set_progress_handler(None, 0)  # MUTANT",
            ),
        ),
        (
            "tests/migrations/test_atomicity.py::test_timeout_rolls_back_before_the_connection_closes",
        ),
    ),
    Mutant(
        "validation-disabled",
        "zarchd/migrations/transaction.py",
        (
            (
                "        problems = _validate(ctx, migration, up, schema_before=schema_before)\n",
                "        problems: list[str] = []  # MUTANT\n",
            ),
        ),
        ("tests/migrations/test_atomicity.py::test_migration_failing_validation_is_rolled_back",),
    ),
    Mutant(
        "recover-no-put-back",
        "zarchd/backups/swap.py",
        (
            (
                "        except BaseException:\n"
                "            _put_back(aside, registry)\n"
                "            raise\n",
                "        except BaseException:\n            raise\n",
            ),
        ),
        (
            "tests/backups/test_guards.py::test_recover_puts_the_registry_back_when_publishing_fails",
        ),
    ),
    Mutant(
        "daemon-no-check-after-swap",
        "zarchd/daemon/daemon.py",
        (
            (
                "        self.ops.settle_hot_journal()\n        self.run_check()\n",
                "        self.ops.settle_hot_journal()\n",
            ),
        ),
        ("tests/e2e/test_daemon_checks.py::test_registry_swapped_for_a_damaged_one_is_reported",),
    ),
    Mutant(
        "foreign-backup-unchecked",
        "zarchd/backups/verify.py",
        (("        return integrity_problems(info, path)\n", "        return []  # MUTANT\n"),),
        ("tests/backups/test_guards.py::test_damaged_foreign_backup_is_not_restored",),
    ),
    Mutant(
        "catch-up-always",
        "zarchd/daemon/daemon.py",
        (
            (
                "and backup_due_at_start(last_backup, cfg.backup.interval, now),",
                "and True,  # MUTANT",
            ),
        ),
        ("tests/e2e/test_daemon_checks.py::test_no_catch_up_backup_after_a_recent_one",),
    ),
    Mutant(
        "watcher-any-event",
        "zarchd/daemon/watcher.py",
        (
            (
                "        elif src == self._registry:\n            self._emit(kind)",
                "        else:\n            self._emit(kind)",
            ),
        ),
        ("tests/e2e/test_daemon_checks.py::test_unrelated_file_in_registry_dir_triggers_nothing",),
    ),
    Mutant(
        "restore-no-plain-name-check",
        "zarchd/backups/listing.py",
        (("    names.check_plain_name(name)\n", "    pass  # MUTANT\n"),),
        ("tests/backups/test_guards.py::test_restore_refuses_a_path_as_name",),
    ),
    # -- beyond the list: guards of paths that were never run, and one bug found here --
    Mutant(
        "prune-no-protected-guard",
        "zarchd/backups/prune.py",
        (
            (
                "        if name in protected:  # belt and braces: decide() never drops it\n"
                "            continue\n",
                "",
            ),
        ),
        ("tests/backups/test_guards.py::test_prune_keeps_the_protected_and_the_no_longer_ours",),
    ),
    Mutant(
        "prune-no-recheck",
        "zarchd/backups/storage.py",
        (
            (
                "        if read_sidecar(path) is None:"
                "  # re-checked right before deleting: only ours\n"
                "            return False\n",
                "",
            ),
        ),
        ("tests/backups/test_guards.py::test_prune_keeps_the_protected_and_the_no_longer_ours",),
    ),
    Mutant(
        "locked-reported-as-damage",
        "zarchd/backups/take.py",
        (
            (
                "            raise  # a lock held past the timeout, not damage: _copy says so\n",
                "            raise _damaged(exc) from exc  # MUTANT\n",
            ),
        ),
        (
            "tests/backups/test_guards.py"
            "::test_take_with_the_registry_locked_gives_up_after_its_deadline",
        ),
    ),
    Mutant(
        "start-continues-after-sigterm",
        "zarchd/daemon/daemon.py",
        (
            (
                "        if self._stopping:  # SIGTERM during a long start-up migration\n"
                "            return\n",
                "",
            ),
        ),
        (
            "tests/e2e/test_daemon_failures.py"
            "::test_sigterm_during_a_start_up_migration_stops_with_the_registry_unchanged",
        ),
    ),
]


def scratch_copy(into: Path) -> None:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "HEAD"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)


def apply(mutant: Mutant, tree: Path) -> str | None:
    """Apply the edits in `tree`; the reason when one no longer matches exactly once."""
    path = tree / mutant.file
    text = path.read_text()
    for old, new in mutant.edits:
        if text.count(old) != 1:
            return f"{old.strip()[:60]!r} found {text.count(old)} times in {mutant.file}"
        text = text.replace(old, new)
    path.write_text(text)
    return None


def run_tests(tree: Path, tests: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    # The venv's console scripts (zarchd, zarchctl) import zarchd too: PYTHONPATH makes them
    # load the mutated copy, so subprocess tests see the bug as well.
    return subprocess.run(
        [sys.executable, "-m", "pytest", *tests, "-x", "-q", "-p", "no:cacheprovider"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def main(argv: list[str]) -> int:
    chosen = [m for m in MUTANTS if not argv or m.name in argv]
    failed = 0
    for mutant in chosen:
        with tempfile.TemporaryDirectory(prefix="zarchd-mutant-") as tmp:
            tree = Path(tmp)
            scratch_copy(tree)
            # The unmutated copy must pass: a test that fails anyway proves nothing.
            base = run_tests(tree, mutant.tests)
            if base.returncode != 0:
                output = (base.stdout + base.stderr)[-2000:]
                print(f"{mutant.name:30} BROKEN   (fails without the bug)\n{output}")
                failed += 1
                continue
            stale = apply(mutant, tree)
            if stale:
                print(f"{mutant.name:30} STALE    {stale}")
                failed += 1
                continue
            res = run_tests(tree, mutant.tests)
            verdict = "caught" if res.returncode != 0 else "SURVIVED"
            failed += res.returncode == 0
            print(
                f"{mutant.name:30} {verdict:8} {', '.join(t.split('::')[-1] for t in mutant.tests)}"
            )
    print(f"{len(chosen) - failed}/{len(chosen)} mutants caught")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
