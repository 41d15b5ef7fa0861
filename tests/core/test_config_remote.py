"""[[remote]] tables: defaults, a full table with its own retention, every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from zarchd.core.config import RetentionPolicy, load_config
from zarchd.core.errors import ConfigError


def test_no_remotes_by_default_and_a_full_table(tmp_path: Path) -> None:
    assert load_config(None, {}).remotes == ()
    path = tmp_path / "zarchd.toml"
    path.write_text(
        "[retention]\nkeep_last = 3\n"
        '[[remote]]\nname = "offsite"\ntarget = "offsite:zarchd"\n'
        '[[remote]]\nname = "nas"\ntarget = "nas:/backups"\nrclone_config = "rclone.conf"\n'
        'prefix = "/laptop/reg/"\nbwlimit = "10M"\nverify = "download"\n'
        'deep_verify_every = "1d"\ndelete = false\nmax_age = "2h"\n'
        "[remote.retention]\nkeep_last = 30\nkeep_yearly = 0\n"
    )
    cfg = load_config(path, env={})
    offsite, nas = cfg.remotes
    assert (offsite.name, offsite.target, offsite.verify, offsite.delete) == (
        "offsite",
        "offsite:zarchd",
        "hash",
        True,
    )
    assert offsite.rclone_config is None and offsite.deep_verify_every == 7 * 86400
    assert offsite.prefix_for("laptop", "registry") == "laptop/registry/"
    assert cfg.remote_retention(offsite) == cfg.retention == RetentionPolicy(keep_last=3)
    assert cfg.remote_max_age(offsite) == cfg.max_backup_age
    assert nas.rclone_config == tmp_path / "rclone.conf"  # next to the config file
    assert nas.prefix_for("other", "x") == "laptop/reg/"
    assert (nas.bwlimit, nas.verify, nas.deep_verify_every, nas.delete) == (
        "10M",
        "download",
        86400,
        False,
    )
    assert cfg.remote_retention(nas) == RetentionPolicy(keep_last=30, keep_yearly=0)
    assert cfg.remote_max_age(nas) == 7200


def test_every_remote_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "zarchd.toml"
    path.write_text(
        '[log]\nlevel = "loud"\n'
        '[[remote]]\nname = "a b"\ntarget = ""\nverify = "md5"\nsurprise = 1\n'
        '[[remote]]\nname = "x"\n'
        'prefix = "../up"\ndeep_verify_every = "5s"\ndelete = "maybe"\n'
        "[remote.retention]\nkeep_last = -1\nkeep_forever = 1\n"
        '[[remote]]\nname = "x"\ntarget = "x:"\nbwlimit = "10M; rm"\n'
    )
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    text = "\n".join(err.value.problems)
    for needle in (
        "log.level",
        "remote #1 ('a b'): name",
        "remote #1 ('a b'): target",
        "remote #1 ('a b'): verify",
        "unknown key surprise",
        "remote #2 ('x'): target is required",
        "remote #2 ('x'): prefix",
        "deep_verify_every",
        "delete = 'maybe'",
        "retention.keep_last = -1",
        "unknown key retention.keep_forever",
        "remote #3 ('x'): bwlimit",
        "the name 'x' is used by two remotes",
    ):
        assert needle in text, needle
    assert len(err.value.problems) == 13


def test_remote_must_be_an_array_of_tables(tmp_path: Path) -> None:
    path = tmp_path / "zarchd.toml"
    path.write_text('remote = "offsite:zarchd"\n')
    with pytest.raises(ConfigError, match="array of tables"):
        load_config(path, env={})
