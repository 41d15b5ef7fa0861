"""[notify]: hooks as argv lists, a ping URL, a metrics file, max_backup_age; every problem with
its file and key, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from zarchd.core.config import load_config
from zarchd.core.errors import ConfigError


def test_defaults_and_a_full_section(tmp_path: Path) -> None:
    cfg = load_config(None, {})
    assert cfg.notify.on_failure == () and cfg.notify.ping_url == ""
    assert cfg.notify.metrics_file is None
    assert cfg.max_backup_age == 2 * cfg.backup.interval

    path = tmp_path / "zarchd.toml"
    path.write_text(
        '[backup]\ninterval = "30m"\n'
        "[notify]\n"
        'on_failure = ["notify-send", "zarchd failed"]\n'
        'on_recovery = ["/usr/local/bin/zarch-ok"]\n'
        "on_success = []\n"
        'ping_url = "https://hc-ping.com/0f1e-uuid/"\n'
        'metrics_file = "textfile/zarchd.prom"\n'
        'max_backup_age = "3h"\n'
    )
    cfg = load_config(path, env={})
    assert cfg.notify.on_failure == ("notify-send", "zarchd failed")
    assert cfg.notify.on_recovery == ("/usr/local/bin/zarch-ok",)
    assert cfg.notify.ping_url == "https://hc-ping.com/0f1e-uuid"  # the slash added per ping
    assert cfg.notify.metrics_file == tmp_path / "textfile" / "zarchd.prom"  # next to the file
    assert cfg.max_backup_age == 3 * 3600

    path.write_text('[backup]\ninterval = "30m"\n[notify]\nmax_backup_age = ""\n')
    assert load_config(path, env={}).max_backup_age == 3600


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('on_failure = "curl https://x"', "not a shell string"),
        ("on_recovery = [1, 2]", "a list of strings"),
        ('on_success = ["", "x"]', "names the program"),
        ('ping_url = "ftp://host/x"', "http:// or https://"),
        ('ping_url = "https://"', "with a host"),
        ("ping_url = 5", "URL"),
        ('metrics_file = ""', None),
        ("metrics_file = 3", "a path"),
        ('max_backup_age = "soon"', "a duration"),
        ('max_backup_age = "10s"', "at least 1m"),
        ("pager = []", "unknown key notify.pager"),
    ],
)
def test_each_bad_value_names_file_and_key(tmp_path: Path, line: str, expected: str | None) -> None:
    path = tmp_path / "zarchd.toml"
    path.write_text(f"[notify]\n{line}\n")
    if expected is None:
        load_config(path, env={})
        return
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    (problem,) = err.value.problems
    assert problem.startswith(f"{path}: ") and expected in problem
    key = line.split(" ", 1)[0]
    assert f"notify.{key}" in problem


def test_all_notify_problems_at_once(tmp_path: Path) -> None:
    path = tmp_path / "zarchd.toml"
    path.write_text(
        '[notify]\non_failure = "x"\non_success = "y"\nping_url = "nope"\nmax_backup_age = "x"\n'
    )
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert len(err.value.problems) == 4, err.value.problems
