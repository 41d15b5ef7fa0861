"""The watcher against real files, real SQLite writers/readers and a real watchdog observer.

Negative cases use a sentinel: a change to the watched version file, which sits in the SAME
directory as the registry, so the observer has already dispatched every earlier event of that
directory when the sentinel arrives; a short extra wait covers anything out of order.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.inprocess import wait_for
from zarchd.core.errors import RegistryError
from zarchd.daemon.watcher import RegistryWatcher
from zarchd.db.registry import check_file, connect

from ..conftest import make_baseline_registry

WAIT = 5.0
QUIET = 0.5


class Seen:
    def __init__(self) -> None:
        self.kinds: list[str] = []
        self.extra: list[Path] = []
        self.cond = threading.Condition()

    def registry(self, kind: str) -> None:
        with self.cond:
            self.kinds.append(kind)
            self.cond.notify_all()

    def extra_change(self, path: Path) -> None:
        with self.cond:
            self.extra.append(path)
            self.cond.notify_all()

    def wait(self, pred: Callable[[], object], timeout: float = WAIT) -> bool:
        with self.cond:
            return bool(self.cond.wait_for(pred, timeout))

    def clear(self) -> None:
        with self.cond:
            self.kinds.clear()
            self.extra.clear()


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    reg = make_baseline_registry(tmp_path / "reg" / "registry.db", rows=5)
    mig = tmp_path / "migrations"
    mig.mkdir()
    return {"registry": reg, "version": reg.parent / "app.version", "migrations": mig}


@pytest.fixture
def watch(layout: dict[str, Path]) -> Iterator[Seen]:
    seen = Seen()
    w = RegistryWatcher(
        layout["registry"],
        seen.registry,
        extra_files=[layout["version"]],
        extra_dirs=[layout["migrations"]],
        on_extra_change=seen.extra_change,
    )
    w.start()
    yield seen
    w.stop()


def sentinel(seen: Seen, layout: dict[str, Path]) -> None:
    """Touch the version file and wait until the observer has delivered it."""
    before = len(seen.extra)
    layout["version"].write_text(f"v{before}\n")
    assert seen.wait(lambda: len(seen.extra) > before), "sentinel not seen"
    seen.wait(lambda: False, timeout=QUIET)


def test_rollback_journal_write_is_modified(watch: Seen, layout: dict[str, Path]) -> None:
    conn = connect(layout["registry"])
    conn.execute("INSERT INTO archives (name, path, size, created) VALUES ('n', '/p', 1, 'now')")
    conn.close()
    assert watch.wait(lambda: "modified" in watch.kinds)
    assert set(watch.kinds) == {"modified"}


def test_wal_commit_is_seen_while_the_writer_stays_open(tmp_path: Path) -> None:
    reg = make_baseline_registry(tmp_path / "w" / "registry.db", rows=5, wal=True)
    seen = Seen()
    writer = sqlite3.connect(reg, isolation_level=None)
    writer.execute("SELECT count(*) FROM archives").fetchall()  # -wal exists before we watch
    w = RegistryWatcher(reg, seen.registry)
    w.start()
    try:
        writer.execute(
            "INSERT INTO archives (name, path, size, created) VALUES ('n', '/p', 1, 'x')"
        )
        assert seen.wait(lambda: "modified" in seen.kinds)
        assert reg.with_name("registry.db-wal").stat().st_size > 0  # the commit sits in the WAL
    finally:
        w.stop()
        writer.close()


def test_daemon_files_and_reads_never_trigger(tmp_path: Path) -> None:
    # WAL registry with no open connection: a reader creates and deletes -wal/-shm.
    reg = make_baseline_registry(tmp_path / "r" / "registry.db", rows=50, wal=True)
    layout = {"registry": reg, "version": reg.parent / "app.version"}
    seen = Seen()
    w = RegistryWatcher(
        reg, seen.registry, extra_files=[layout["version"]], on_extra_change=seen.extra_change
    )
    w.start()
    try:
        d = reg.parent
        assert check_file(reg) == ["ok"]  # integrity check (read-only)
        src = connect(reg)  # online backup (read)
        dst = sqlite3.connect(d / "registry-20250301-120000.bak")
        src.backup(dst)
        dst.close()
        src.close()
        (d / "registry-20250301-120000.bak.json").write_text("{}")  # sidecar
        (d / ".registry-x1y2.tmp").write_bytes(b"tmp")  # temp file
        os.replace(d / ".registry-x1y2.tmp", d / "registry-20250301-120001.bak")
        (d / ".registry.db.zarchd.lock").write_text("123\n")  # the daemon's lock
        (d / "registry.db-shm").write_bytes(b"\0" * 64)
        (d / "registry.db-shm").unlink()
        (d / "registry.db.old").write_text("x")  # near-miss names
        (d / "notes.txt").write_text("x")
        sentinel(seen, layout)
        assert seen.kinds == []
    finally:
        w.stop()


def test_mv_over_registry_is_replaced(watch: Seen, layout: dict[str, Path]) -> None:
    new = layout["registry"].with_name("incoming.db")
    shutil.copyfile(layout["registry"], new)
    sentinel(watch, layout)
    watch.clear()
    os.replace(new, layout["registry"])
    assert watch.wait(lambda: "replaced" in watch.kinds)


def test_cp_backup_over_registry_is_modified(watch: Seen, layout: dict[str, Path]) -> None:
    backup = layout["registry"].with_name("registry-20250301-120000.bak")
    shutil.copyfile(layout["registry"], backup)
    sentinel(watch, layout)
    assert watch.kinds == []  # making the backup was not a change
    shutil.copyfile(backup, layout["registry"])
    assert watch.wait(lambda: "modified" in watch.kinds)


def test_rm_is_deleted_and_recreate_is_created(watch: Seen, layout: dict[str, Path]) -> None:
    layout["registry"].unlink()
    assert watch.wait(lambda: "deleted" in watch.kinds)
    make_baseline_registry(layout["registry"])
    assert watch.wait(lambda: "created" in watch.kinds)


def test_app_version_file_change(watch: Seen, layout: dict[str, Path]) -> None:
    layout["version"].write_text("1.2.3\n")
    assert watch.wait(lambda: layout["version"] in watch.extra)
    watch.clear()
    tmp = layout["version"].with_name(".app.version.new")  # atomic replace, as installers do
    tmp.write_text("1.2.4\n")
    os.replace(tmp, layout["version"])
    assert watch.wait(lambda: layout["version"] in watch.extra)
    assert watch.kinds == []


def test_new_sql_in_migrations_dir(watch: Seen, layout: dict[str, Path]) -> None:
    mig = layout["migrations"]
    (mig / "README.md").write_text("not a migration")
    sql = mig / "0006_tags.sql"
    sql.write_text("-- migrate:up\nALTER TABLE archives ADD COLUMN tags TEXT;\n")
    assert watch.wait(lambda: sql in watch.extra)
    moved = mig / "0007_more.sql"
    (mig / "draft.tmp").write_text("-- migrate:up\n")
    os.replace(mig / "draft.tmp", moved)
    assert watch.wait(lambda: moved in watch.extra)
    assert all(p.suffix == ".sql" for p in watch.extra)


def test_callback_exception_does_not_kill_the_observer(layout: dict[str, Path]) -> None:
    seen = Seen()
    calls: list[str] = []

    def flaky(kind: str) -> None:
        calls.append(kind)
        if len(calls) == 1:
            raise RuntimeError("boom")
        seen.registry(kind)

    w = RegistryWatcher(layout["registry"], flaky)
    w.start()
    try:
        layout["registry"].unlink()
        make_baseline_registry(layout["registry"])
        assert seen.wait(lambda: "created" in seen.kinds)
        assert calls[0] == "deleted"
    finally:
        w.stop()


def test_missing_registry_dir_is_a_clear_error(tmp_path: Path) -> None:
    w = RegistryWatcher(tmp_path / "nowhere" / "registry.db", lambda kind: None)
    with pytest.raises(RegistryError, match="does not exist"):
        w.start()
    w.stop()  # harmless after a failed start


def _write_registry_row(reg: Path) -> None:
    conn = sqlite3.connect(reg)
    with conn:
        conn.execute("UPDATE archives SET size = size + 1")
    conn.close()


@pytest.mark.parametrize("how", ["deleted", "moved away"])
def test_registry_dir_recreated_is_watched_again(
    layout: dict[str, Path], how: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Regression (issue 9, defect 6): inotify watches the old directory's inode; a directory
    deleted (or moved away) and recreated at the same path must be watched again, and said."""
    seen = Seen()
    reg = layout["registry"]
    w = RegistryWatcher(
        reg,
        seen.registry,
        extra_files=[layout["version"]],
        on_extra_change=seen.extra_change,
        guard_interval=0.2,
    )
    caplog.set_level("WARNING", logger="zarchd.daemon.daemon.watcher")
    w.start()
    try:
        if how == "deleted":
            shutil.rmtree(reg.parent)
        else:
            reg.parent.rename(reg.parent.with_name("reg-old"))
        assert seen.wait(lambda: "deleted" in seen.kinds or how != "deleted")
        seen.wait(lambda: False, timeout=QUIET)
        seen.clear()
        make_baseline_registry(reg, rows=3)
        assert seen.wait(lambda: bool(seen.kinds)), "no change seen after the directory came back"
        sentinel(seen, layout)  # the version file beside it is watched again too
        seen.clear()
        _write_registry_row(reg)  # and a later ordinary write is seen
        assert seen.wait(lambda: "modified" in seen.kinds)
        messages = [r.getMessage() for r in caplog.records]
        assert any("watch lost" in m for m in messages), messages
        assert any("watching it again" in m for m in messages), messages
    finally:
        w.stop()


def test_a_change_no_event_reported_is_found_by_the_rescan(tmp_path: Path) -> None:
    """Lost events (an inotify queue overflow drops them; watchdog only logs it): the guard's
    stat rescan reports the change. Here the kernel itself reports nothing to the registry's
    directory: the write goes through a hard link in another directory."""
    registry = make_baseline_registry(tmp_path / "reg" / "registry.db")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    alias = elsewhere / "alias.db"
    os.link(registry, alias)
    changes: list[str] = []
    seen = threading.Event()

    def changed(kind: str) -> None:
        changes.append(kind)
        seen.set()

    watcher = RegistryWatcher(registry, changed, guard_interval=0.1)
    watcher.start()
    try:
        # the first rescan took its baseline
        wait_for(lambda: watcher._token is not None, what="the guard's first rescan")
        conn = sqlite3.connect(alias)  # a commit, through the other name
        conn.execute("INSERT INTO archives (name, path, size, created) VALUES ('x', 'x', 1, 'x')")
        conn.commit()
        conn.close()
        assert seen.wait(10), "the rescan did not report the change"
        assert changes == ["modified"]
    finally:
        watcher.stop()


def test_a_migration_edit_no_event_reported_is_found_by_the_rescan(
    layout: dict[str, Path], tmp_path: Path
) -> None:
    """Lost events for the migrations directory: a new or edited migration is still noticed
    within a rescan, not at the next restart. The edit goes through a hard link elsewhere, so
    the watched directory hears nothing of it."""
    mig = layout["migrations"] / "0100_tags.sql"
    mig.write_text("-- migrate:up\nSELECT 1;\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    alias = elsewhere / "alias.sql"
    os.link(mig, alias)
    seen = Seen()
    watcher = RegistryWatcher(
        layout["registry"],
        seen.registry,
        extra_dirs=[layout["migrations"]],
        on_extra_change=seen.extra_change,
        guard_interval=0.1,
    )
    watcher.start()
    try:
        wait_for(lambda: watcher._extra_token is not None, what="the guard's first rescan")
        assert seen.extra == []  # the baseline reports nothing
        with open(alias, "a") as fh:  # the same inode, grown: no event in the watched dir
            fh.write("SELECT 2;\n")
        assert seen.wait(lambda: seen.extra), "the rescan did not report the edit"
        assert seen.extra == [mig]
    finally:
        watcher.stop()


def _migrations_watcher(layout: dict[str, Path], seen: Seen, **kw: object) -> RegistryWatcher:
    return RegistryWatcher(
        layout["registry"],
        seen.registry,
        extra_dirs=[layout["migrations"]],
        on_extra_change=seen.extra_change,
        guard_interval=0.1,
        **kw,  # type: ignore[arg-type]
    )


def test_an_event_for_one_migration_does_not_hide_a_lost_one(
    layout: dict[str, Path], tmp_path: Path
) -> None:
    """Review: one 'an event came' flag for the whole directory let a new file's event hide an
    edit of another file whose events were lost (through a hard link elsewhere here)."""
    a = layout["migrations"] / "0101_a.sql"
    a.write_text("-- migrate:up\nSELECT 1;\n")
    b = layout["migrations"] / "0102_b.sql"
    b.write_text("-- migrate:up\nSELECT 1;\n")
    alias = tmp_path / "alias.sql"
    os.link(b, alias)
    seen = Seen()
    watcher = _migrations_watcher(layout, seen)
    watcher.start()
    try:
        with open(a, "a") as fh:  # an event (the directory itself is unchanged)
            fh.write("SELECT 2;\n")
        with open(alias, "a") as fh:  # no event in the watched directory
            fh.write("SELECT 2;\n")
        assert seen.wait(lambda: b in seen.extra), f"the edit of {b.name} was never told"
    finally:
        watcher.stop()


def test_an_edit_that_keeps_size_and_mtime_is_still_seen(
    layout: dict[str, Path], tmp_path: Path
) -> None:
    """`cp -p` or `tar x` put the old mtime back on an edited file: the ctime still moves."""
    b = layout["migrations"] / "0102_b.sql"
    b.write_text("-- migrate:up\nSELECT 1;\n")
    alias = tmp_path / "alias.sql"
    os.link(b, alias)
    before = os.stat(b)
    seen = Seen()
    watcher = _migrations_watcher(layout, seen)
    watcher.start()
    try:
        alias.write_text("-- migrate:up\nSELECT 2;\n")  # the same size
        os.utime(alias, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert os.stat(b).st_size == before.st_size
        assert seen.wait(lambda: b in seen.extra), "the edit was never told"
    finally:
        watcher.stop()


def test_a_failing_callback_does_not_end_the_guard(layout: dict[str, Path], tmp_path: Path) -> None:
    """Review: an exception from a callback ended the guard thread (no more rescans, and the
    registry directory's watch never re-armed). Now it is logged and the guard goes on: the
    change it could not hand over is told again at the next look."""
    b = layout["migrations"] / "0102_b.sql"
    b.write_text("-- migrate:up\nSELECT 1;\n")
    alias = tmp_path / "alias.sql"
    os.link(b, alias)
    calls: list[Path] = []

    def failing(path: Path) -> None:
        calls.append(path)
        raise RuntimeError("boom")

    watcher = RegistryWatcher(
        layout["registry"],
        lambda kind: None,
        extra_dirs=[layout["migrations"]],
        on_extra_change=failing,
        guard_interval=0.05,
    )
    watcher.start()
    try:
        with open(alias, "a") as fh:  # only the rescan can tell it
            fh.write("SELECT 2;\n")
        wait_for(lambda: len(calls) >= 2, what="a second look after the first call failed")
        assert watcher._guard is not None and watcher._guard.is_alive()
    finally:
        watcher.stop()
