"""Human-readable output of each command's result, readable at a glance."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from zarchd.app.commands import COMMANDS
from zarchd.app.joblog import summary
from zarchd.cli import timefmt
from zarchd.core.textsafe import escape_all

if TYPE_CHECKING:  # types only: building the TypedDicts costs ~5 ms of zarchctl's start-up
    from zarchd.app.results import (
        BackupResult,
        BackupsResult,
        CheckResult,
        DriftJson,
        HealthResult,
        JobLogResult,
        MigrateResult,
        PingResult,
        PruneResult,
        RegistryReport,
        RemoteFleetResult,
        RemoteListResult,
        RepairResult,
        RestoreResult,
        RollbackResult,
        StatusReport,
        VerifyResult,
    )


def size(n: int | None) -> str:
    value = float(n or 0)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def age(stamp: str | None, now: datetime | None = None) -> str:
    return timefmt.ago(stamp, now)


def _remote_lines(remotes: list[dict[str, Any]]) -> list[str]:
    """One line per [[remote]] (state, newest copy and age, queue), its error and deep check."""
    out = []
    for rm in remotes:
        newest = (
            f"newest {rm['newest']} ({age(rm.get('newest_at'))})"
            if rm.get("newest")
            else "no copy yet"
        )
        stale = ", TOO OLD" if rm.get("stale") and rm.get("newest") else ""
        out.append(
            f"remote     {rm['name']} ({rm.get('target')}): {rm.get('state')}, {newest}{stale}, "
            f"{rm.get('queue', 0)} queued"
        )
        err = rm.get("last_error")
        if err and rm.get("state") != "ok":
            out.append(f"           ! {err.get('at')}: {err.get('message')}")
        deep = rm.get("last_deep_check")
        if deep:
            verdict = "ok" if deep.get("ok") else f"FAILED: {deep.get('problem')}"
            out.append(f"           deep check {deep.get('at')} of {deep.get('name')}: {verdict}")
    return out


def status(r: StatusReport) -> str:
    d, reg, bk = r.get("daemon", {}), r.get("registry", {}), r.get("backups", {})
    out: list[str] = []
    if d.get("running"):
        state = "paused" if d.get("paused") else "running"
        out.append(
            f"daemon     {state} (pid {d.get('pid')}, version {d.get('version')}, "
            f"up {int(d.get('uptime_s') or 0)}s)"
        )
    else:
        out.append(f"daemon     {d.get('note') or 'not running (registry read locally)'}")
    out.append(f"registry   {reg.get('path')}")
    if not reg.get("exists") and reg.get("problem"):
        out.append(f"           MISSING: {reg['problem']}")
    elif not reg.get("exists"):
        out.append("           does not exist yet (`zarchctl migrate` creates it)")
    else:
        integrity = reg.get("integrity")
        mode = {"wal": "WAL mode", "rollback": "rollback journal"}.get(
            str(reg.get("journal_mode")), "journal mode unknown"
        )
        out.append(
            f"           {size(reg.get('size_bytes'))}, {mode}, integrity {integrity}"
            + _integrity_source(reg)
        )
        for problem in reg.get("integrity_problems") or []:
            out.append(f"           ! {problem}")
    if reg.get("migrations_error"):
        out.append(f"migrations error: {reg['migrations_error']}")
    out.append(
        f"schema     {reg.get('schema_version') or 'none'} "
        f"({len(reg.get('applied', []))} applied, {len(reg.get('pending', []))} pending)"
    )
    unknown = set(reg.get("unknown", []))
    for a in reg.get("applied", []):
        if a["id"] in unknown:
            continue  # listed below as recorded, unknown
        when = a.get("applied_at") or (
            "in effect (pre-migration registry)" if a.get("inferred") else "?"
        )
        out.append(f"  applied  {a['id']:<28} {when}")
    for p in reg.get("pending", []):
        out.append(f"  pending  {p['id']:<28} {p.get('name', '')}")
    for c in reg.get("changed", []):
        out.append(f"  changed  {c['id']:<28} {c.get('message', '')}")
    for u in reg.get("unknown", []):
        out.append(
            f"  recorded, unknown  {u:<19} in schema_migrations, not in this zarchd's catalog"
        )
    out += _drift_lines(reg.get("schema_drift") or [])
    out += _unreadable_lines(reg.get("unreadable_by_7zarch_go") or [])
    latest = bk.get("latest")
    out.append(
        f"backups    {bk.get('count', 0)} in {bk.get('dir')} ({size(bk.get('total_bytes'))})"
    )
    if bk.get("problem"):
        out.append(f"           ! {bk['problem']}")
    if latest:
        verified = "verified" if latest.get("verified") else "NOT verified"
        out.append(
            f"  newest   {latest['name']} ({timefmt.when(latest.get('created_at'))}, "
            f"{size(latest.get('size_bytes'))}, {verified})"
        )
    else:
        out.append("  newest   none yet")
    if bk.get("next_run"):
        out.append(
            f"  next     {timefmt.local_time(bk['next_run'])} ({timefmt.until(bk['next_run'])})"
        )
    pol = r.get("retention") or {}
    if pol:
        out.append(
            "retention  " + ", ".join(f"{k.removeprefix('keep_')} {v}" for k, v in pol.items())
        )
    out += _remote_lines(r.get("remotes") or [])
    err = r.get("last_error")
    out.append(
        f"last error {timefmt.when(err['at'])} {err.get('job', '')}: {err.get('message', '')}"
        if err
        else "last error none"
    )
    fixed = r.get("last_resolved_error")
    if fixed:
        out.append(
            f"resolved   {fixed.get('job', '')} error of {timefmt.local_time(fixed.get('at'))} "
            f"(by its success at {timefmt.local_time(fixed.get('resolved_at'))})"
        )
    return "\n".join(out)


def _integrity_source(reg: RegistryReport) -> str:
    """How and when the integrity answer was found, so an old answer never passes for news."""
    method = reg.get("integrity_method")
    if not method:
        return ""
    when = reg.get("integrity_checked_at")
    if when and not when.startswith("now"):
        return f" ({method}, {age(when)})"
    return f" ({method}, now)"


def backup(r: BackupResult) -> str:
    if r.get("skipped"):
        return f"no backup taken: {r.get('reason')}"
    b = r["backup"]
    return (
        f"backup {b['name']} written ({size(b.get('size_bytes'))}, verified, "
        f"sha256 {str(b.get('sha256'))[:16]}…)"
    )


VERIFIED = {True: "yes", False: "NO", None: "not ours"}


def escaped(values: list[Any]) -> list[Any]:
    """escape_all of each value; not called for printable text, which it returns as it is."""
    return [v if type(v) is str and v.isprintable() else escape_all(v) for v in values]


def backups(r: BackupsResult) -> str:
    # Escapes what it prints (render() does not escape the whole listing first): every value
    # read from `r` goes through escape_all, so the text is the same either way.
    items = r.get("backups", [])
    ignored = ignored_lines(r.get("ignored"))
    if not items:
        return "\n".join([f"no backups in {escape_all(r.get('dir'))}", *ignored])
    names = escaped([b["name"] for b in items])
    schemas = [schema or "-" for schema in escaped([b.get("schema_version") for b in items])]
    cells = []
    local_time = timefmt.local_time
    for b in items:
        created, stored, check = b.get("created_at"), b.get("size_bytes"), b.get("check")
        verified = b.get("verified")
        # escape_all is not called for what it returns unchanged (printable text, an int,
        # True/False/None): four calls fewer per row of 10,000
        if type(created) is not str or not created.isprintable():
            created = escape_all(created)
        if type(stored) is not int:
            stored = escape_all(stored)
        if type(check) is not str or not check.isprintable():
            check = escape_all(check)
        if verified is not None and type(verified) is not bool:
            verified = escape_all(verified)
        state = "UNTRUSTED" if b.get("untrusted") else VERIFIED[verified]
        cells.append((local_time(created), size(stored), state, check or "-"))
    return backups_table(names, schemas, cells, ignored)


def ignored_lines(ignored: list[Any] | None) -> list[str]:
    return [
        f"ignored: {escape_all(i.get('name'))}: {escape_all(i.get('reason'))}"
        for i in ignored or []
    ]


def backups_table(
    names: list[str], schemas: list[str], cells: list[tuple[str, str, str, str]], ignored: list[str]
) -> str:
    """The `backups` table of escaped names and schemas, and each row's created, size, state and
    check text: one layout for the daemon's JSON answer and for --local's records
    (cli/records_text.py)."""
    width = max(36, *(len(name) for name in names))
    sw = max(6, *(len(schema) for schema in schemas))
    # %-formatting with the widths as arguments: an f-string's nested width builds its format
    # spec again for every cell, 2.5x the time over 10,000 rows (issue 16); the same text.
    row = "%-*s %-25s %10s  %-9s %-*s  %s"
    rows = [row % (width, "name", "created", "size", "verified", sw, "schema", "check")]
    for name, schema, (created, shown, state, check) in zip(names, schemas, cells, strict=True):
        rows.append(row % (width, name, created, shown, state, sw, schema, check))
    return "\n".join(rows + ignored)


def prune(r: PruneResult) -> str:
    """A keep/delete table in `backups` order (oldest first), then what it came to."""
    # Escapes what it prints, as backups() does.
    decisions = r.get("decisions", [])
    if not decisions:
        return "no backups made by zarchd to consider"
    dry = r.get("dry_run")
    names = escaped([d["name"] for d in decisions])
    cells = []
    local_time = timefmt.local_time
    for d in decisions:
        verdict = "keep" if d["keep"] else ("delete" if dry else "deleted")
        created = "-"
        if d.get("created_at"):
            when = d["created_at"]  # escaped unless printable text (as in backups())
            ok = type(when) is str and when.isprintable()
            created = local_time(when if ok else escape_all(when))
        shown = "-"
        if "size_bytes" in d:
            stored = d["size_bytes"]
            shown = size(stored if type(stored) is int else escape_all(stored))
        reasons = d["reasons"]
        reasons = escaped(reasons) if type(reasons) is list else escape_all(reasons)
        cells.append((verdict, created, shown, ", ".join(reasons)))
    dropped = sum(1 for d in decisions if not d["keep"])
    kept = escape_all(r.get("kept", len(decisions) - dropped))
    freed = size(escape_all(r.get("freed_bytes", 0)))
    return prune_table(dry, names, cells, kept, dropped, freed)


def prune_table(
    dry: object,
    names: list[str],
    cells: list[tuple[str, str, str, str]],
    kept: object,
    dropped: int,
    freed: str,
) -> str:
    """The `prune` table of escaped names and each row's action, created, size and reasons
    text, and its totals: one layout for the daemon's JSON answer and for --dry-run --local's
    records (cli/records_text.py)."""
    width = max(len(name) for name in names)
    row = "%-7s %-*s %-25s %10s  %s"  # as in backups_table: the same text, in less time
    rows = [row % ("action", width, "name", "created", "size", "why")]
    for name, (verdict, created, shown, why) in zip(names, cells, strict=True):
        rows.append(row % (verdict, width, name, created, shown, why))
    if dry:
        rows.append(f"would keep {kept}, delete {dropped}, free {freed} (dry run: nothing deleted)")
    else:
        rows.append(f"kept {kept}, deleted {dropped}, space freed {freed}")
    return "\n".join(rows)


def verify(r: VerifyResult) -> str:
    rows = []
    for res in r.get("results", []):
        rows.append(
            f"{'ok ' if res['ok'] else 'BAD'} {res['name']}"
            + ("" if res["ok"] else ": " + "; ".join(res["problems"]))
        )
    if not rows:
        rows.append("no backups to verify")
    if r.get("bad"):
        rows.append(f"{len(r['bad'])} bad backup(s): {', '.join(r['bad'])}")
    return "\n".join(rows)


def migrate(r: MigrateResult) -> str:
    if r.get("dry_run"):
        if not r.get("pending"):
            return f"nothing pending (schema {r.get('schema_version')})"
        parts = [f"{len(r['pending'])} pending migration(s); nothing written (dry run):"]
        for p in r["pending"]:
            parts.append(f"\n-- {p['id']}: {p['name']}\n{(p.get('sql') or '').strip()}")
        return "\n".join(parts)
    if r.get("backup_only"):
        taken = r.get("backup")  # the whole backup's record here, not just its name
        name = taken["name"] if isinstance(taken, dict) else taken
        return (
            f"backup {name} taken; {len(r.get('pending', []))} migration(s) "
            "pending, none applied (--backup-only)"
        )
    applied = r.get("applied", [])
    if not applied:
        return f"nothing to apply; schema {r.get('schema_version')}"
    lines = [f"applied {a['id']} ({a.get('duration_s', 0):.2f}s)" for a in applied]
    if r.get("backup"):
        lines.insert(0, f"backup {r['backup']} taken first")
    lines.append(f"schema now {r.get('schema_version')}")
    return "\n".join(lines)


def rollback(r: RollbackResult) -> str:
    lines = [f"backup {r['backup']} taken first"] if r.get("backup") else []
    lines += [f"reverted {a['id']}" for a in r.get("reverted", [])]
    lines.append(f"schema now {r.get('schema_version')}")
    return "\n".join(lines)


def restore(r: RestoreResult) -> str:
    if r.get("to"):
        return (
            f"wrote a copy of {r.get('restored')} to {r['to']} ({size(r.get('size_bytes'))}, "
            f"sha256 {str(r.get('sha256'))[:16]}…, integrity ok); the registry was not touched"
        )
    lines = [str(r["resumed"])] if r.get("resumed") else []
    if r.get("corrupted_saved_as"):
        lines.append(f"damaged registry set aside as {r['corrupted_saved_as']}")
    if r.get("safety_backup"):
        lines.append(f"safety backup of the current registry: {r['safety_backup']}")
    if r.get("restored"):
        where = f" from remote {r['remote']}" if r.get("remote") else ""
        into = f" into {r['written_to']}" if r.get("written_to") else ""
        lines.append(f"restored {r['restored']}{where}{into}")
    if r.get("salvaged"):
        lines.append(f"salvaged with sqlite3 .recover: {r['salvaged']}")
    for a in r.get("migrated", []):
        lines.append(f"then applied {a['id']}")
    return "\n".join(lines) or "done"


def _drift_lines(drift: list[DriftJson]) -> list[str]:
    lines = [f"  drift    {d['migration']:<28} {p}" for d in drift for p in d.get("problems", [])]
    if lines:
        lines.append(
            "           schema drift: the registry lacks what its recorded migrations "
            "made; `zarchctl repair --dry-run` shows the fix"
        )
    return lines


def _unreadable_lines(found: list[DriftJson]) -> list[str]:
    lines = [f"  warning  {d['migration']:<28} {p}" for d in found for p in d.get("problems", [])]
    if lines:
        lines.append(
            "           7zarch-go's list/show/delete fail on such rows; `zarchctl repair` "
            "gives them the values 7zarch-go writes itself"
        )
    return lines


def check(r: CheckResult) -> str:
    if not r.get("ok"):
        return (
            "registry DAMAGED: "
            + "; ".join(r.get("problems", []))
            + "\nrun `zarchctl recover` to restore the newest good backup"
        )
    drift = r.get("schema_drift") or []
    warnings = _unreadable_lines(r.get("unreadable_by_7zarch_go") or [])
    if drift:
        return "\n".join(
            [f"integrity ok, but SCHEMA DRIFT: {r.get('path')}", *_drift_lines(drift), *warnings]
        )
    return "\n".join([f"integrity ok, schema as recorded: {r.get('path')}", *warnings])


def repair(r: RepairResult) -> str:
    if not r.get("reapply"):
        return "no schema drift, nothing 7zarch-go cannot read: nothing to repair"
    lines = _drift_lines(r.get("drift") or [])[:-1]
    lines += _unreadable_lines(r.get("unreadable_by_7zarch_go") or [])[:-1]
    if r.get("dry_run"):
        lines += [f"would re-apply {m}" for m in r.get("reapply", [])]
        lines.append("(dry run: nothing changed)")
        return "\n".join(lines)
    if r.get("backup"):
        lines.append(f"backup {r['backup']} taken first")
    lines += [f"re-applied {m}" for m in r.get("reapply", [])]
    lines.append("schema repaired")
    return "\n".join(lines)


def health(r: HealthResult) -> str:
    if r.get("healthy"):
        return "healthy"
    return "\n".join(["degraded:"] + [f"  {reason}" for reason in r.get("reasons", [])])


def ping(r: PingResult) -> str:
    return f"zarchd is running (pid {r.get('pid')}, version {r.get('version')})"


def job_log(r: JobLogResult) -> str:
    """One line per job, oldest first: when, ok/FAILED, then what it did and who asked."""
    if not r["entries"]:
        return "no jobs recorded yet"
    lines = []
    for e in r["entries"]:
        outcome = "ok" if e.get("ok") else ("cancelled" if "cancelled" in e else "FAILED")
        lines.append(f"{timefmt.local_time(e.get('at'))}  {outcome:<9} {summary(e)}")
    return "\n".join(lines)


def _when(stamp: str | None) -> str:
    return stamp.replace("T", " ") if stamp else "-"


def remote_list(r: RemoteListResult) -> str:
    lines: list[str] = []
    for rem in r["remotes"]:
        lines.append(f"{rem['remote']}  {rem['target']}/{rem['prefix']}")
        if rem.get("error"):
            lines.append(f"  cannot read it: {rem['error']}")
            continue
        if not rem["copies"]:
            lines.append("  no copies")
        for c in rem["copies"]:
            state = "verified" if c["verified"] else ("complete" if c["complete"] else "INCOMPLETE")
            when, amount = _when(c["created_at"]), size(c["size_bytes"])
            lines.append(f"  {c['name']:<40} {when:<25} {amount:>10}  {state}")
    return "\n".join(lines) or "no remotes configured ([[remote]] in the config)"


def remote_fleet(r: RemoteFleetResult) -> str:
    lines: list[str] = []
    for rem in r["remotes"]:
        lines.append(
            f"{rem['remote']}  {rem['target']}  (stale after {duration(rem['max_age_s'])})"
        )
        if rem.get("error"):
            lines.append(f"  cannot read it: {rem['error']}")
            continue
        if not rem["prefixes"]:
            lines.append("  no copies")
        for p in rem["prefixes"]:
            flag = "STALE" if p["stale"] else "ok"
            newest = (
                f"{p['newest']} ({_when(p['newest_at'])}, {duration(p['age_s'])} old)"
                if p["newest"]
                else "no complete copy"
            )
            lines.append(f"  {flag:<6}{p['prefix']:<32} {p['copies']:>4} copies  newest {newest}")
    return "\n".join(lines) or "no remotes configured ([[remote]] in the config)"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= length:
            return f"{seconds / length:.0f}{unit}" if unit != "d" else f"{seconds / length:.1f}d"
    return f"{max(seconds, 0):.0f}s"


def simple(r: Any) -> str:
    if isinstance(r, dict) and "message" in r:
        return str(r["message"])
    return "ok" if r in (None, True, {}) else str(r)


def renderer(command: str) -> Callable[[Any], str]:
    """The function the command table names for `command` (plain `simple` for unknown ones)."""
    entry = COMMANDS.get(command)
    fn = globals().get(entry.renderer) if entry else simple
    return fn if callable(fn) else simple


# Renderers that escape each value they print: escaping a whole listing of 10,000 backups
# before rendering it was a tenth of `zarchctl backups` (issue 16).
_ESCAPE_THEMSELVES = (backups, prune)


def render(command: str, result: Any) -> str:
    # Paths and names may hold control characters: shown escaped here, exact in --json.
    fn = renderer(command)
    return fn(result) if fn in _ESCAPE_THEMSELVES else fn(escape_all(result))
