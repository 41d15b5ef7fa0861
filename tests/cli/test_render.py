"""The human-readable renderers on results shaped as the operations return them."""

from __future__ import annotations

from datetime import UTC, datetime

from zarchd.cli import render, timefmt

NOW = datetime(2026, 3, 14, 12, 0, 0, tzinfo=UTC)
BAK = "registry-20260314-110000-zarchd.bak"


def test_size_and_age() -> None:
    assert render.size(None) == "0 B" and render.size(1023) == "1023 B"
    assert render.size(1536) == "1.5 KiB" and render.size(3 * 1024**3) == "3.0 GiB"
    assert render.size(5 * 1024**4) == "5120.0 GiB"
    assert render.age(None) == "never" and render.age("garbage") == "never"
    assert render.age("2026-03-14T11:59:30Z", NOW) == "30s ago"
    assert render.age("2026-03-14T11:30:00Z", NOW) == "30m ago"
    assert render.age("2026-03-14T09:00:00Z", NOW) == "3h ago"
    assert render.age("2026-03-10T12:00:00Z", NOW) == "4d ago"
    assert render.age("2026-03-15T12:00:00Z", NOW) == "in the future (clock skew?)"


def _status(**registry: object) -> dict[str, object]:
    return {
        "daemon": {"running": True, "paused": True, "pid": 7, "version": "0.1.0", "uptime_s": 3},
        "registry": {"path": "/r/registry.db", **registry},
        "backups": {
            "dir": "/b",
            "count": 1,
            "total_bytes": 2048,
            "next_run": "2026-03-14T13:00:00Z",
            "problem": "cannot list",
            "latest": {"name": BAK, "created_at": "2026-03-14T11:00:00Z", "size_bytes": 2048},
        },
        "retention": {"keep_last": 10, "keep_daily": 7},
        "last_error": {"at": "2026-03-14T11:00:00Z", "job": "backup", "message": "disk full"},
    }


def test_status_with_every_section() -> None:
    text = render.status(
        _status(
            exists=True,
            size_bytes=4096,
            journal_mode="wal",
            integrity="damaged",
            integrity_problems=["page 3 is bad"],
            migrations_error="cannot read the schema",
            schema_version="0005_search_index",
            applied=[
                {"id": "0001_initial", "applied_at": "2026-01-01"},
                {"id": "0002_uid", "inferred": True},
                {"id": "test_001"},
            ],
            pending=[{"id": "0100_tags", "name": "Tags"}],
            changed=[{"id": "0100_tags", "message": "file changed"}],
            unknown=["test_001"],
            schema_drift=[{"migration": "0003_trash", "problems": ["lacks deleted_at"]}],
            unreadable_by_7zarch_go=[{"migration": "0002_uid", "problems": ["NULL uid"]}],
        )
    )
    for words in (
        "daemon     paused (pid 7, version 0.1.0, up 3s)",
        "4.0 KiB, WAL mode, integrity damaged",
        "! page 3 is bad",
        "migrations error: cannot read the schema",
        "schema     0005_search_index (3 applied, 1 pending)",
        "in effect (pre-migration registry)",
        "pending  0100_tags",
        "changed  0100_tags",
        "recorded, unknown  test_001",
        "drift    0003_trash",
        "zarchctl repair --dry-run",
        "warning  0002_uid",
        "! cannot list",
        f"newest   {BAK}",
        "NOT verified",
        f"next     {timefmt.local_time('2026-03-14T13:00:00Z')}",
        "retention  last 10, daily 7",
        f"last error {timefmt.local_time('2026-03-14T11:00:00Z')} (",
    ):
        assert words in text, words


def test_status_of_a_missing_registry_without_a_daemon() -> None:
    report = _status(exists=False, problem="it held data; run `zarchctl recover`")
    report["daemon"] = {"running": False}
    report["backups"] = {"dir": "/b", "count": 0}
    report["last_error"] = None
    text = render.status(report)
    assert "daemon     not running" in text and "MISSING: it held data" in text
    assert "newest   none yet" in text and "last error none" in text
    report["registry"] = {"path": "/r", "exists": False, "journal_mode": "?"}
    assert "does not exist yet" in render.status(report)
    report["registry"] = {"path": "/r", "exists": True, "journal_mode": "delete"}
    assert "journal mode unknown" in render.status(report)


def test_backup_and_backups() -> None:
    assert render.backup({"skipped": True, "reason": "unchanged"}) == "no backup taken: unchanged"
    line = render.backup({"backup": {"name": BAK, "size_bytes": 10, "sha256": "ab" * 32}})
    assert line.startswith(f"backup {BAK} written (10 B, verified, sha256 abababab")
    empty = render.backups({"dir": "/b", "backups": [], "ignored": [{"name": "x", "reason": "y"}]})
    assert empty == "no backups in /b\nignored: x: y"
    rows = render.backups(
        {
            "backups": [
                {"name": BAK, "verified": True, "size_bytes": 1, "schema_version": "0005"},
                {"name": BAK, "verified": True, "schema_version": "0005", "check": "quick"},
                {"name": "registry-20260101-000000.bak", "verified": None},
                {"name": "b.bak", "verified": False},
                {"name": "c.bak", "verified": True, "untrusted": True},
            ]
        }
    )
    assert rows.splitlines()[0].split()[-2:] == ["schema", "check"]
    assert rows.splitlines()[1].split()[-3:] == ["yes", "0005", "-"]  # an old sidecar's JSON
    assert rows.splitlines()[2].split()[-3:] == ["yes", "0005", "quick"]
    assert "not ours" in rows and " NO " in rows and "UNTRUSTED" in rows


def test_prune_and_verify() -> None:
    decisions = [
        {"name": "a.bak", "keep": True, "reasons": ["last 1"]},
        {"name": "b.bak", "keep": False, "reasons": ["beyond every rule"]},
    ]
    dry = render.prune({"dry_run": True, "decisions": decisions})
    assert "keep    a.bak" in dry and "delete  b.bak" in dry and "(dry run" in dry
    assert "deleted b.bak" in render.prune({"dry_run": False, "decisions": decisions})
    assert render.prune({"decisions": []}) == "no backups made by zarchd to consider"
    text = render.verify(
        {
            "results": [
                {"name": "a.bak", "ok": True, "problems": []},
                {"name": "b.bak", "ok": False, "problems": ["sha256 differs", "torn"]},
            ],
            "bad": ["b.bak"],
        }
    )
    assert text.splitlines() == [
        "ok  a.bak",
        "BAD b.bak: sha256 differs; torn",
        "1 bad backup(s): b.bak",
    ]
    assert render.verify({"results": []}) == "no backups to verify"


def test_migrate_rollback_restore() -> None:
    assert render.migrate({"dry_run": True, "pending": [], "schema_version": "5"}) == (
        "nothing pending (schema 5)"
    )
    dry = render.migrate(
        {"dry_run": True, "pending": [{"id": "0100", "name": "Tags", "sql": " ALTER x; "}]}
    )
    assert "1 pending migration(s)" in dry and "-- 0100: Tags\nALTER x;" in dry
    only = render.migrate({"backup_only": True, "backup": {"name": BAK}, "pending": [1, 2]})
    assert only.startswith(f"backup {BAK} taken; 2 migration(s) pending")
    assert render.migrate({"applied": [], "schema_version": "5"}) == "nothing to apply; schema 5"
    applied = render.migrate(
        {"applied": [{"id": "0100", "duration_s": 0.5}], "backup": BAK, "schema_version": "0100"}
    )
    assert applied.splitlines() == [
        f"backup {BAK} taken first",
        "applied 0100 (0.50s)",
        "schema now 0100",
    ]
    assert render.rollback({"backup": BAK, "reverted": [{"id": "0100"}], "schema_version": "5"})
    assert render.rollback({"reverted": [], "schema_version": "5"}) == "schema now 5"
    text = render.restore(
        {
            "resumed": "finished an interrupted recovery",
            "corrupted_saved_as": "registry.db.corrupted-1",
            "safety_backup": "s.bak",
            "restored": BAK,
            "salvaged": "salvage.db",
            "migrated": [{"id": "0005"}],
        }
    )
    assert text.splitlines()[0] == "finished an interrupted recovery"
    assert "then applied 0005" in text and "salvaged with sqlite3 .recover" in text
    assert render.restore({}) == "done"


def test_check_repair_ping_simple() -> None:
    damaged = render.check({"ok": False, "problems": ["bad page"]})
    assert damaged.startswith("registry DAMAGED: bad page") and "zarchctl recover" in damaged
    drift = [{"migration": "0003", "problems": ["lacks deleted_at"]}]
    assert "SCHEMA DRIFT" in render.check({"ok": True, "path": "/r", "schema_drift": drift})
    fine = render.check(
        {
            "ok": True,
            "path": "/r",
            "unreadable_by_7zarch_go": [{"migration": "2", "problems": ["n"]}],
        }
    )
    assert fine.startswith("integrity ok, schema as recorded: /r") and "warning  2" in fine
    assert "nothing to repair" in render.repair({"reapply": []})
    dry = render.repair({"dry_run": True, "reapply": ["0003"], "drift": drift})
    assert "would re-apply 0003" in dry and "drift    0003" in dry and "(dry run" in dry
    done = render.repair({"reapply": ["0003"], "backup": BAK, "drift": drift})
    assert f"backup {BAK} taken first" in done and done.endswith("schema repaired")
    assert render.ping({"pid": 1, "version": "0.1.0"}) == "zarchd is running (pid 1, version 0.1.0)"
    assert render.simple({"message": "paused"}) == "paused"
    assert render.simple(None) == "ok" and render.simple(True) == "ok" and render.simple(3) == "3"


def test_render_escapes_control_characters() -> None:
    text = render.render("pause", {"message": "a\x1b[2Jb"})
    assert "\x1b" not in text and "a" in text and "b" in text


def test_backups_columns_line_up_with_long_schema_versions() -> None:
    items = [
        {"name": BAK, "verified": True, "schema_version": "0005_search_index", "check": "quick"},
        {"name": BAK, "verified": True, "schema_version": "0001", "check": "integrity"},
    ]
    lines = render.backups({"dir": "/b", "backups": items}).splitlines()  # type: ignore[typeddict-item]
    column = lines[0].index("check")
    assert [line[column:] for line in lines[1:]] == ["quick", "integrity"]
