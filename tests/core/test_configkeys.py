"""The one table of config keys: complete, and its template loads back to the defaults."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from zarchd.core import config, configkeys


def test_every_key_config_py_knows_is_described_and_in_the_template() -> None:
    known = set(configkeys.known_keys())
    missing = known - set(configkeys.KEYS)
    assert not missing, f"describe these keys in core/configkeys.py KEYS: {sorted(missing)}"
    assert set(configkeys.KEYS) <= known, "KEYS names a key config.py no longer has"
    written = tomllib.loads(configkeys.template())
    assert {(s, k) for s, keys in written.items() for k in keys} == known
    assert set(configkeys.SECTION_NOTES) == set(config.SCHEMA)


def test_the_template_loads_to_exactly_the_default_config(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(configkeys.template(), encoding="utf-8")
    loaded = config.load_config(path, env={})
    assert dataclasses.replace(loaded, source=None) == config.Config()


def test_sources_name_the_file_the_environment_or_the_default(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[log]\nlevel = "debug"\n[backup]\ninterval = "2h"\n', encoding="utf-8")
    env = {"ZARCH_LOG_LEVEL": "error"}
    cfg = config.load_config(path, env=env)
    origin = configkeys.sources(cfg, env)
    assert origin[("backup", "interval")] == "file"
    assert origin[("log", "level")] == "env ZARCH_LOG_LEVEL"  # the environment wins
    assert origin[("retention", "keep_last")] == "default"
    assert configkeys.toml_value("backup", "interval", cfg.backup.interval) == '"2h"'


def test_the_template_describes_every_remote_key_and_its_example_loads(tmp_path: Path) -> None:
    assert set(configkeys.REMOTE_KEYS) == set(config.REMOTE_SCHEMA)
    lines = configkeys.template().splitlines()
    start = lines.index("# [[remote]]")
    # what a person does: remove the first "# " of the remote's lines
    path = tmp_path / "config.toml"
    path.write_text("\n".join(ln.removeprefix("# ") for ln in lines[start:]) + "\n")
    (remote,) = config.load_config(path, env={}).remotes
    assert (remote.name, remote.target, remote.delete) == ("offsite", "offsite:zarchd", True)
