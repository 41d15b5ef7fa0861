from __future__ import annotations

from pathlib import Path

import pytest

from zarchd.core.config import format_duration, load_config, parse_duration
from zarchd.core.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_missing_default_file_means_defaults() -> None:
    cfg = load_config(None, {})
    assert cfg.source is None
    assert cfg.registry_path == Path("~/.7zarch-go/registry.db").expanduser()
    assert cfg.backup_dir == cfg.registry_path.parent
    assert cfg.backup.interval == 3600 and cfg.backup.debounce == 30
    assert cfg.retention.keep_last == 10 and cfg.retention.keep_yearly == 2
    assert cfg.migrations.auto is True and cfg.migrations.timeout == 30


def test_file_found_through_xdg_config_home(isolated_dirs: Path) -> None:
    target = isolated_dirs / "config" / "zarchd" / "config.toml"
    target.parent.mkdir()
    write(target, '[backup]\ninterval = "5m"\n')
    cfg = load_config(None)
    assert cfg.source == target and cfg.backup.interval == 300


def test_zarch_config_env_and_explicit_precedence(tmp_path: Path) -> None:
    a = write(tmp_path / "a.toml", "[check]\ninterval = 60\n")
    b = write(tmp_path / "b.toml", '[check]\ninterval = "2h"\n')
    assert load_config(None, {"ZARCH_CONFIG": str(a)}).check.interval == 60
    assert load_config(b, {"ZARCH_CONFIG": str(a)}).check.interval == 7200


def test_named_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "nope.toml", {})
    assert "does not exist" in err.value.message


def test_full_file_and_env_overrides(tmp_path: Path) -> None:
    cfg_file = write(
        tmp_path / "c.toml",
        """
[registry]
path = "~/reg/registry.db"
[backup]
dir = "/tmp/bk"
interval = "1h"
cron = "0 3 * * *"
on_change = false
debounce = "45s"
[retention]
keep_last = 3
keep_hourly = 0
[migrations]
auto = true
timeout = "2m"
dir = "/opt/app/migrations"
app_version_file = "/opt/app/VERSION"
[check]
interval = "7d"
[control]
socket = "/tmp/z.sock"
[log]
level = "debug"
""",
    )
    env = {
        "ZARCH_REGISTRY": str(tmp_path / "r.db"),
        "ZARCH_SOCKET": "/tmp/other.sock",
        "ZARCH_LOG_LEVEL": "WARNING",
        "ZARCH_DB_AUTOMIGRATE": "false",
    }
    cfg = load_config(cfg_file, env)
    assert cfg.registry_path == tmp_path / "r.db"
    assert cfg.backup_dir == Path("/tmp/bk")
    assert cfg.backup.cron == "0 3 * * *" and cfg.backup.on_change is False
    assert cfg.backup.debounce == 45
    assert cfg.retention.keep_last == 3 and cfg.retention.keep_hourly == 0
    assert cfg.migrations.auto is False and cfg.migrations.timeout == 120
    assert cfg.migrations.dir == Path("/opt/app/migrations")
    assert cfg.check.interval == 7 * 86400
    assert cfg.socket_path == Path("/tmp/other.sock")
    assert cfg.log.level == "warning"


def test_every_problem_reported_at_once_with_file_key_and_expectation(tmp_path: Path) -> None:
    bad = write(
        tmp_path / "bad.toml",
        """
[backup]
interval = "soon"
on_change = "maybe"
colour = "blue"
cron = "61 * * * *"
[retention]
keep_daily = -1
keep_weekly = 2.5
[surprise]
x = 1
""",
    )
    with pytest.raises(ConfigError) as err:
        load_config(bad, {"ZARCH_DB_AUTOMIGRATE": "perhaps", "ZARCH_LOG_LEVEL": "loud"})
    problems = err.value.problems
    assert len(problems) == 9, problems
    text = err.value.message
    for needle in (
        "backup.interval",
        "backup.on_change",
        "unknown key backup.colour",
        "backup.cron",
        "retention.keep_daily",
        "retention.keep_weekly",
        "unknown section [surprise]",
        "ZARCH_DB_AUTOMIGRATE",
        "ZARCH_LOG_LEVEL",
    ):
        assert needle in text
    assert str(bad) in text
    assert "expected a duration" in text and "true or false" in text
    assert err.value.exit_code == 2


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.toml", "[backup\ninterval=")
    with pytest.raises(ConfigError) as err:
        load_config(bad, {})
    assert "not valid TOML" in err.value.message


@pytest.mark.parametrize(
    "text,seconds",
    [("30s", 30), ("5m", 300), ("1h", 3600), ("7d", 604800), (90, 90), (" 2 m ", 120)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


# Regression (issue 9, defect 14a): fractions and milliseconds were accepted against the README.
@pytest.mark.parametrize(
    "text", ["", "5 minutes", "-1", -3, True, "1y", None, "1ms", "250ms", "1.5h", "0.5s", 1.5, "2w"]
)
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_format_duration_round_trips() -> None:
    for seconds in (30, 300, 3600, 86400, 604800, 90):
        assert parse_duration(format_duration(seconds)) == seconds


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    cfg_file = write(
        tmp_path / "c.toml", '[registry]\npath = "data/registry.db"\n[backup]\ndir = "bk"\n'
    )
    cfg = load_config(cfg_file, {})
    assert cfg.registry_path == tmp_path / "data" / "registry.db"
    assert cfg.backup_dir == tmp_path / "bk"


@pytest.mark.parametrize("bad", ['"99999999999d"', "1e400", "nan", "inf"])
def test_durations_beyond_ten_years_or_not_finite_are_refused(tmp_path: Path, bad: str) -> None:
    cfg_file = write(tmp_path / "c.toml", f"[backup]\ninterval = {bad}\n")
    with pytest.raises(ConfigError) as err:
        load_config(cfg_file, {})
    assert "backup.interval" in err.value.message


def test_durations_below_their_floor_are_all_reported_with_file_and_key(tmp_path: Path) -> None:
    """Regression (issue 9, defect 14a): `interval = "1ms"` ran the scheduler 1,000 times a
    second; every duration has a floor, and every offender is named at once."""
    cfg_file = write(
        tmp_path / "c.toml",
        '[backup]\ninterval = "1ms"\ndebounce = "0s"\n'
        '[check]\ninterval = "59s"\n'
        "[migrations]\ntimeout = 0\n",
    )
    with pytest.raises(ConfigError) as err:
        load_config(cfg_file, {})
    assert len(err.value.problems) == 4, err.value.problems
    text = err.value.message
    for needle in (
        "backup.interval",
        "backup.debounce",
        "check.interval",
        "migrations.timeout",
        "at least 1m",
        "at least 1s",
        str(cfg_file),
    ):
        assert needle in text, text
    ok = write(
        tmp_path / "ok.toml",
        '[backup]\ninterval = "1s"\ndebounce = 1\n'
        '[check]\ninterval = "1m"\n[migrations]\ntimeout = "1s"\n',
    )
    cfg = load_config(ok, {})
    assert (
        cfg.backup.interval,
        cfg.backup.debounce,
        cfg.check.interval,
        cfg.migrations.timeout,
    ) == (1, 1, 60, 1)


def test_nul_in_a_path_and_overlong_socket_are_config_errors(tmp_path: Path) -> None:
    cfg_file = write(
        tmp_path / "c.toml",
        f'[registry]\npath = "/tmp/x\\u0000y"\n[control]\nsocket = "/tmp/{"s" * 120}.sock"\n',
    )
    with pytest.raises(ConfigError) as err:
        load_config(cfg_file, {})
    assert "registry.path" in err.value.message and "control.socket" in err.value.message
    assert "NUL" in err.value.message and "103 bytes" in err.value.message


def test_a_relative_socket_is_relative_to_the_config_file_too(tmp_path: Path) -> None:
    cfg_file = write(tmp_path / "c.toml", '[control]\nsocket = "run/zarchd.sock"\n')
    assert load_config(cfg_file, {}).socket_path == tmp_path / "run" / "zarchd.sock"
