"""The Prometheus text-format metrics file for node_exporter's textfile collector: what the jobs
did (last success, duration, failures) and the sizes of the registry and its backups. Rewritten
whole and atomically, so the collector never reads half a file."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zarchd.core.errors import ZarchError
from zarchd.core.fsutil import atomic_write_text
from zarchd.db.registry import connect

# node_exporter usually runs as another user: the file is readable by all (it holds no secrets).
METRICS_MODE = 0o644


@dataclass
class JobMetrics:
    """What the metrics file says about the jobs, kept up to date from the job records."""

    last_success: dict[str, float] = field(default_factory=dict)  # job -> unix time
    last_duration: dict[str, float] = field(default_factory=dict)
    last_ok: dict[str, bool] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)  # since the daemon started
    migrations: dict[str, float] = field(default_factory=dict)  # id -> seconds
    last_backup_bytes: int | None = None

    def add(self, entry: dict[str, Any], at: float, *, replay: bool = False) -> None:
        """Take in one job record (`replay`: from the history at start, not counted again)."""
        job = str(entry.get("job", "unknown"))
        if entry.get("cancelled"):
            return  # the daemon stopping is not an outcome of the job
        ok = bool(entry.get("ok"))
        self.last_ok[job] = ok
        if isinstance(entry.get("duration_s"), int | float):
            self.last_duration[job] = float(entry["duration_s"])
        if ok:
            self.last_success[job] = at
            if job == "backup" and isinstance(entry.get("size_bytes"), int):
                self.last_backup_bytes = entry["size_bytes"]
            durations = entry.get("durations")
            if isinstance(durations, dict):
                for mid, seconds in durations.items():
                    if isinstance(seconds, int | float):
                        self.migrations[str(mid)] = float(seconds)
        elif not replay:
            self.failures[job] = self.failures.get(job, 0) + 1
        else:
            self.failures.setdefault(job, 0)


def registry_pages(path: Path) -> int | None:
    """The registry's page count through SQLite (never a plain open(): see db/registry.py);
    None when SQLite cannot say quickly (a writer holds it, or it is not a database)."""
    try:
        conn = connect(path, readonly=True, timeout=0.5)
    except ZarchError:
        return None
    try:
        return int(conn.execute("PRAGMA page_count").fetchone()[0])
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


def render(jobs: JobMetrics, facts: dict[str, float | int]) -> str:
    """The whole file: each metric with its HELP and TYPE lines, samples sorted by label."""
    out: list[str] = []

    def family(name: str, kind: str, text: str, samples: list[tuple[str, float | int]]) -> None:
        if not samples:
            return
        out.append(f"# HELP {name} {text}")
        out.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            out.append(f"{name}{labels} {_num(value)}")

    def per_job(values: dict[str, Any]) -> list[tuple[str, float | int]]:
        return [(f'{{job="{_label(j)}"}}', v) for j, v in sorted(values.items())]

    family(
        "zarchd_job_last_success_timestamp_seconds",
        "gauge",
        "When each job last succeeded (unix time).",
        per_job(jobs.last_success),
    )
    family(
        "zarchd_job_last_duration_seconds",
        "gauge",
        "How long each job's last run took.",
        per_job(jobs.last_duration),
    )
    family(
        "zarchd_job_last_ok",
        "gauge",
        "1 when each job's last run succeeded, 0 when it failed.",
        per_job({j: int(ok) for j, ok in jobs.last_ok.items()}),
    )
    family(
        "zarchd_job_failures_total",
        "counter",
        "Failed runs of each job since the daemon started.",
        per_job(jobs.failures),
    )
    family(
        "zarchd_migration_duration_seconds",
        "gauge",
        "How long each applied migration took, when zarchd applied it.",
        [(f'{{id="{_label(m)}"}}', v) for m, v in sorted(jobs.migrations.items())],
    )
    if jobs.last_backup_bytes is not None:
        facts = {**facts, "zarchd_backup_last_size_bytes": jobs.last_backup_bytes}
    helps = {
        "zarchd_backup_last_size_bytes": "Size of the last backup taken.",
        "zarchd_backups_count": "Backups in the backup directory.",
        "zarchd_backups_size_bytes": "Total size of the backups.",
        "zarchd_registry_size_bytes": "Size of the registry file.",
        "zarchd_registry_pages": "Pages in the registry (PRAGMA page_count).",
        "zarchd_metrics_written_timestamp_seconds": "When this file was written (unix time).",
    }
    for name, value in sorted(facts.items()):
        family(name, "gauge", helps.get(name, name), [("", value)])
    return "\n".join(out) + "\n"


def write(path: Path, text: str) -> None:
    atomic_write_text(path, text, mode=METRICS_MODE)
