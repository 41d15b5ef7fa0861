"""One writer per registry, whatever path names it and whatever happens to the lock file
(issue 9, defects 3 and 12); real `zarchd run` and `zarchctl` processes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.e2e.harness import QUIET, Daemon, command, wait_for
from zarchd.db.lock import WriterLock


def test_backup_local_never_writes_through_a_planted_lock_symlink(
    registry_0005: Path, tmp_path: Path
) -> None:
    victim = tmp_path / "victim.conf"
    victim.write_text("precious\n")
    lock = registry_0005.with_name(".registry.db.zarchd.lock")
    lock.symlink_to(victim)
    d = Daemon(tmp_path, registry_0005, config=QUIET)
    for args in (("backup", "--local"), ("migrate", "--local")):
        res = d.ctl(*args, check=False)
        assert res.returncode == 1, res
        assert str(lock) in res.stderr and "symbolic link" in res.stderr, res.stderr
        assert "Traceback" not in res.stderr
    run = subprocess.run(
        [*command("zarchd"), "run", "--config", str(d.config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1 and "symbolic link" in run.stderr, run
    assert victim.read_text() == "precious\n"


def test_a_second_daemon_naming_the_registry_through_a_symlink_is_refused(
    registry_0005: Path, tmp_path: Path
) -> None:
    link = tmp_path / "linked" / "reg-link.db"
    link.parent.mkdir()
    link.symlink_to(registry_0005)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        Daemon(tmp_path / "a", registry_0005, config=QUIET) as first,
        Daemon(tmp_path / "b", link, config=QUIET) as second,
    ):
        first.start()
        second.start(wait=False)
        assert second.proc is not None
        assert second.proc.wait(timeout=30) == 1, second.log_text()
        assert "already running" in second.log_text()
        assert first.ctl("ping", check=False).returncode == 0


def test_two_daemons_never_run_after_the_lock_vanished_with_its_directory(
    registry_0005: Path, tmp_path: Path
) -> None:
    saved = tmp_path / "saved.db"
    shutil.copyfile(registry_0005, saved)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        Daemon(tmp_path / "a", registry_0005, config=QUIET) as first,
        Daemon(tmp_path / "b", registry_0005, config=QUIET) as second,
    ):
        first.start()
        shutil.rmtree(registry_0005.parent)  # the lock file goes with it
        registry_0005.parent.mkdir()
        shutil.copyfile(saved, registry_0005)
        second.start(wait=False)
        assert first.proc is not None and second.proc is not None
        # Whichever takes the new lock first, the other one must go, saying why.
        gone = wait_for(
            lambda: [d for d in (first, second) if d.proc.poll() is not None],
            timeout=40,
            what="one of the two daemons to exit",
        )
        assert len(gone) == 1 and gone[0].proc.returncode == 1, [d.log_text() for d in gone]
        survivor = second if gone[0] is first else first
        assert "writer lock" in gone[0].log_text()
        assert survivor.proc.poll() is None
        assert survivor.ctl("ping", check=False).returncode == 0, survivor.log_text()


def test_a_daemon_that_lost_its_lock_writes_nothing_more(
    registry_0005: Path, tmp_path: Path
) -> None:
    with Daemon(tmp_path, registry_0005, config=QUIET) as d:
        d.start()
        # The catch-up backup at start runs beside the first ping: let it finish first.
        wait_for(lambda: d.json("status")["backups"]["latest"], what="the catch-up backup")
        before = sorted(p.name for p in registry_0005.parent.glob("*.bak"))
        registry_0005.with_name(".registry.db.zarchd.lock").unlink()
        with WriterLock(registry_0005, role="another writer"):  # took a new lock meanwhile
            res = d.ctl("backup", check=False)
            assert res.returncode != 0, res
            assert d.proc is not None and d.proc.wait(timeout=30) == 1
        assert "lost the registry's writer lock" in res.stderr or res.returncode == 3, res
        assert "STOPPING" in d.log_text()
        assert sorted(p.name for p in registry_0005.parent.glob("*.bak")) == before
