"""What a running daemon does, and does not do, on its own: the check after the registry is
swapped, no catch-up backup when the last one is recent, no reaction to other files next to
the registry. "Nothing happened" is read off the log once a later, positive event was logged."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from tests.e2e.harness import QUIET, Daemon, add_archive, command, wait_for


def wreck(path: Path) -> None:
    """Junk over every page but the first: the schema still reads, every table is damaged."""
    page = 4096
    with sqlite3.connect(path) as conn:
        page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.seek(page)
        fh.write(b"\xff\x13\x00\x7f" * ((size - page) // 4))


def logged(d: Daemon, text: str) -> bool:
    return text in d.log_text()


def test_registry_swapped_for_a_damaged_one_is_reported(
    registry_0005: Path, tmp_path: Path
) -> None:
    with Daemon(tmp_path, registry_0005, config=QUIET).start() as d:
        wait_for(lambda: logged(d, "backup (catch-up) written"), what="catch-up backup")
        wait_for(lambda: logged(d, "integrity check ok"), what="catch-up check")
        damaged = registry_0005.with_name("incoming.db")
        shutil.copyfile(registry_0005, damaged)
        wreck(damaged)
        os.rename(damaged, registry_0005)  # as a copy tool or 7zarch-go's own restore does
        wait_for(
            lambda: logged(d, "the registry is DAMAGED"),
            timeout=20,
            what=f"the check after the swap to report damage (log: {d.log_text()})",
        )
        assert "registry replaced" in d.log_text()


def test_no_catch_up_backup_after_a_recent_one(registry_0005: Path, tmp_path: Path) -> None:
    env = {**os.environ, "ZARCH_REGISTRY": str(registry_0005)}
    done = subprocess.run(
        [*command("zarchctl"), "backup", "--local"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    with Daemon(tmp_path, registry_0005, config=QUIET).start() as d:
        # Both catch-up jobs would be queued at start, the backup first, on one worker thread:
        # once the catch-up check has logged, a catch-up backup would have logged before it.
        wait_for(lambda: logged(d, "integrity check ok"), what="catch-up check")
        assert "backup (catch-up)" not in d.log_text()
        assert len(list(registry_0005.parent.glob("*-zarchd.bak"))) == 1


def test_unrelated_file_in_registry_dir_triggers_nothing(
    registry_0005: Path, tmp_path: Path
) -> None:
    config = '[backup]\ninterval = "1h"\non_change = true\ndebounce = "1s"\n'
    with Daemon(tmp_path, registry_0005, config=config).start() as d:
        wait_for(lambda: logged(d, "backup (catch-up) written"), what="catch-up backup")
        other = registry_0005.with_name("notes.txt")
        other.write_text("not the registry\n")
        os.rename(other, registry_0005.with_name("notes-renamed.txt"))
        # Then a real change: its backup is the positive signal that the events before it
        # (handled in order by the one observer thread) have been seen.
        add_archive(registry_0005, 1)
        wait_for(
            lambda: d.log_text().count(" written: ") >= 2,
            timeout=30,
            what=f"the change backup (log: {d.log_text()})",
        )
        text = d.log_text()
        for kind in ("created", "deleted", "replaced"):
            assert f"registry {kind}" not in text, text
