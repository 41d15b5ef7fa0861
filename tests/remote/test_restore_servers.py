"""Issue 15's "done when": a backup taken on machine A is restored on machine B (a fresh HOME: no
registry, no backup directory, no daemon) from each of the three loopback servers, through
`zarchctl restore --from` as a user runs it. SFTP is reached through RCLONE_CONFIG_* variables
only (no rclone.conf at all), WebDAV (no server-side hashes) and S3 through a config file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.cli.conftest import restore_process_state  # noqa: F401 (autouse: signal handlers)
from tests.cli.test_remote_cli import send_backup_to
from tests.conftest import archive_rows
from tests.inprocess import iter_short_dir
from tests.remote import servers
from tests.remote.conftest import remote_config
from zarchd.cli.zarchctl import app


@pytest.fixture
def root() -> Path:
    yield from iter_short_dir()


@pytest.mark.parametrize("kind", ["sftp", "webdav", "s3"])
def test_a_backup_from_machine_a_restores_on_a_fresh_machine_b(
    kind: str, root: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    server: servers.LoopbackRemote = request.getfixturevalue(f"{kind}_remote")
    conf = (
        None
        if kind == "sftp"
        else request.getfixturevalue("s3_conf" if kind == "s3" else "rclone_conf")
    )
    rc = remote_config(server, conf)
    if kind == "sftp":  # the remote exists only as RCLONE_CONFIG_<NAME>_* variables
        for key, value in server.env.items():
            monkeypatch.setenv(key, value)
    name, reg_a = send_backup_to(root, rc)

    home = root / "home-b"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    registry = home / "new" / "registry.db"
    cfg = home / "zarchd.toml"
    conf_line = f'rclone_config = "{conf}"\n' if conf else ""
    cfg.write_text(
        f'[registry]\npath = "{registry}"\n[control]\nsocket = "{root / "b.sock"}"\n'
        f'[[remote]]\nname = "{rc.name}"\ntarget = "{rc.target}"\nprefix = "{rc.prefix}"\n'
        + conf_line
    )
    done = CliRunner().invoke(
        app, ["restore", "--from", rc.name, "latest", "--yes", "--json", "--config", str(cfg)]
    )
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)["restored"] == name
    assert archive_rows(registry) == archive_rows(reg_a) == 3
    assert stat.S_IMODE(registry.parent.stat().st_mode) == 0o700
