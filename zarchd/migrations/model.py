"""The values the migration engine hands out: plain dataclasses, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass, field

BUILTIN = "builtin"


@dataclass(frozen=True)
class Migration:
    """One step of the schema, built in or read from an application SQL file.

    `up_sql` / `down_sql` are what a dry-run shows; for built-ins they are a readable rendering
    of what the Python step does (built-ins check what is already there before acting).
    """

    id: str
    name: str
    depends: tuple[str, ...]
    source: str  # "builtin" or the path of the SQL file
    checksum: str
    up_sql: str
    down_sql: str | None

    @property
    def builtin(self) -> bool:
        return self.source == BUILTIN

    @property
    def has_down(self) -> bool:
        return self.down_sql is not None


@dataclass
class AppliedMigration:
    id: str
    name: str
    applied_at: str | None  # verbatim text from schema_migrations, never reformatted
    inferred: bool = False  # 0001 recognised on a registry older than the migration table


@dataclass
class SchemaStatus:
    exists: bool
    applied: list[AppliedMigration] = field(default_factory=list)
    pending: list[Migration] = field(default_factory=list)
    changed: list[dict[str, str]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    schema_version: str | None = None
    # Recorded built-ins whose effect is not all there: [{"migration", "problems"}]
    drift: list[dict[str, object]] = field(default_factory=list)
    # Data 7zarch-go cannot read (NULLs it scans as strings), same shape: a warning
    unreadable: list[dict[str, object]] = field(default_factory=list)


@dataclass
class MigrateResult:
    applied: list[dict[str, object]] = field(default_factory=list)  # {"id","name","duration_s"}
    skipped_present: list[str] = field(default_factory=list)
    schema_version: str | None = None
