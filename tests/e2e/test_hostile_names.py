"""Regression (issue 9, defect 14b): raw newlines and escape sequences from paths reached the log
and zarchctl's human output, where they forge lines and drive the terminal. They are shown
escaped there; --json keeps the exact path."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
from pathlib import Path

from tests.conftest import FIXTURE_0005
from tests.e2e.harness import command, wait_for
from zarchd.core.logsetup import SafeFormatter

EVIL = "evil\n2026-01-01 ERROR forged\x1b[31m\u202e"
SHOWN = "evil\\n2026-01-01 ERROR forged\\x1b[31m\\u202e"


def _registry(tmp_path: Path) -> Path:
    folder = tmp_path / EVIL
    folder.mkdir()
    registry = folder / "registry.db"
    shutil.copyfile(FIXTURE_0005, registry)
    return registry


def _ctl(registry: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ZARCH_REGISTRY": str(registry)}
    res = subprocess.run(
        command("zarchctl") + list(args),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in res.stdout + res.stderr, res.stderr
    return res


def _assert_escaped(text: str, *, names_it: bool = True) -> None:
    assert "\x1b" not in text and "\u202e" not in text, repr(text)
    assert not any(line.startswith("2026-01-01 ERROR forged") for line in text.splitlines())
    assert SHOWN in text or not names_it, text


def test_zarchctl_shows_control_characters_escaped_and_json_exact(tmp_path: Path) -> None:
    registry = _registry(tmp_path)
    res = _ctl(registry, "backup", "--local")
    assert res.returncode == 0, res.stderr
    status = _ctl(registry, "status", "--local")
    assert status.returncode == 0, status.stderr
    _assert_escaped(status.stdout)
    listing = _ctl(registry, "backups", "--local")
    _assert_escaped(listing.stdout, names_it=False)
    exact = json.loads(_ctl(registry, "status", "--local", "--json").stdout)
    assert exact["registry"]["path"] == str(registry)
    # An error message that names the path: escaped too, on stderr.
    (registry.parent / "blocker").write_text("x")
    config = tmp_path / "c.toml"
    config.write_text(f"[backup]\ndir = {json.dumps(str(registry.parent / 'blocker'))}\n")
    failed = _ctl(registry, "backups", "--local", "--config", str(config))
    assert failed.returncode == 1
    _assert_escaped(failed.stderr, names_it=False)  # newlines stay (indented): messages span lines
    assert "forged\\x1b[31m\\u202e/blocker" in failed.stderr, failed.stderr


def test_daemon_log_shows_control_characters_escaped(tmp_path: Path) -> None:
    registry = _registry(tmp_path)
    config = tmp_path / "c.toml"
    config.write_text(
        f'[control]\nsocket = "{tmp_path / "s.sock"}"\n'
        '[backup]\ninterval = "1h"\non_change = false\n'
    )
    log = tmp_path / "zarchd.log"
    env = {**os.environ, "ZARCH_REGISTRY": str(registry)}
    env.pop("JOURNAL_STREAM", None)
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [*command("zarchd"), "run", "--config", str(config)], stdout=fh, stderr=fh, env=env
        )
    try:
        wait_for(
            lambda: "zarchd ready" in log.read_text(errors="replace"),
            timeout=20,
            what="zarchd ready",
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    _assert_escaped(log.read_text(errors="replace"))
    # A start-up failure naming the path goes to the same log: one escaped line.
    (registry.parent / "blocker").write_text("x")
    with open(config, "a") as fh:
        fh.write(f"dir = {json.dumps(str(registry.parent / 'blocker'))}\n")
    failed = subprocess.run(
        [*command("zarchd"), "run", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert failed.returncode == 1, failed.stderr
    assert "Traceback" not in failed.stderr
    _assert_escaped(failed.stderr)


def test_log_formatter_escapes_the_message_but_keeps_the_traceback() -> None:
    formatter = SafeFormatter("%(levelname)s %(message)s")
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "bad path %s", (EVIL,), sys.exc_info()
        )
    text = formatter.format(record)
    first, *rest = text.split("\n")
    assert first == f"ERROR bad path {SHOWN}"
    assert rest[0].startswith("Traceback") and "ValueError: boom" in text
