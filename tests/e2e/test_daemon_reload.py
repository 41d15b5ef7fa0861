"""A reload that moves migrations.dir moves the watch: new files in the new directory are
applied, the old directory is no longer watched."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import QUIET, Daemon, wait_for

TAGS = "-- depends: 0005_search_index\n-- migrate:up\nALTER TABLE archives ADD COLUMN tags TEXT;\n"


def test_reload_moves_the_migrations_watch(registry_0005: Path, tmp_path: Path) -> None:
    old, new = tmp_path / "mig-old", tmp_path / "mig-new"
    old.mkdir()
    new.mkdir()
    with Daemon(tmp_path, registry_0005, config=QUIET + f'[migrations]\ndir = "{old}"\n') as d:
        d.start()
        d.config.write_text(d.config.read_text().replace(str(old), str(new)))
        d.ctl("reload")
        wait_for(lambda: "config reloaded" in d.log_text(), what="reload")
        (old / "0100_old.sql").write_text(TAGS.replace("tags", "old_tags"))
        # Written after the old directory's file: by the time this one has been applied (an
        # event, a safety backup, a migration), an event for the old file would have been logged.
        (new / "0100_tags.sql").write_text(TAGS)
        wait_for(
            lambda: d.json("status")["registry"]["schema_version"] == "0100_tags",
            timeout=15,
            what=f"the migration in the new directory (log: {d.log_text()})",
        )
        text = d.log_text()
        assert f"application version input changed: {new / '0100_tags.sql'}" in text
        assert str(old / "0100_old.sql") not in text, text
