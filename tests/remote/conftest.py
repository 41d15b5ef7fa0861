"""Session-wide loopback servers (started once: about 0.3 s each, moto about 1 s) and an
rclone.conf naming all three; a test gets a RemoteConfig with its own fresh prefix."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.remote import servers
from zarchd.core.config import RemoteConfig

_serial = itertools.count()


@pytest.fixture(scope="session")
def rclone_bin() -> str:
    """Skips a test that needs the rclone program when it is not installed (only then)."""
    if not servers.rclone_available():
        pytest.skip("rclone is not installed (apt install rclone): this test runs it")
    return "rclone"


@pytest.fixture(scope="session")
def sftp_remote(
    tmp_path_factory: pytest.TempPathFactory, rclone_bin: str
) -> Iterator[servers.LoopbackRemote]:
    with servers.sftp_server(tmp_path_factory.mktemp("sftp")) as (remote, _server):
        yield remote


@pytest.fixture(scope="session")
def webdav_remote(
    tmp_path_factory: pytest.TempPathFactory, rclone_bin: str
) -> Iterator[servers.LoopbackRemote]:
    with servers.webdav_server(tmp_path_factory.mktemp("webdav")) as (remote, _server):
        yield remote


@pytest.fixture(scope="session")
def s3_remote(rclone_bin: str) -> Iterator[servers.LoopbackRemote]:
    pytest.importorskip("moto.server", reason="moto is not installed: pip install 'moto[s3]'")
    with servers.s3_server() as remote:
        yield remote


@pytest.fixture(scope="session")
def rclone_conf(
    tmp_path_factory: pytest.TempPathFactory,
    sftp_remote: servers.LoopbackRemote,
    webdav_remote: servers.LoopbackRemote,
) -> Path:
    """sftp and webdav in one rclone.conf (S3 comes through s3_conf: moto is optional)."""
    path = tmp_path_factory.mktemp("rclone") / "rclone.conf"
    return servers.write_conf(path, [sftp_remote, webdav_remote])


@pytest.fixture(scope="session")
def s3_conf(tmp_path_factory: pytest.TempPathFactory, s3_remote: servers.LoopbackRemote) -> Path:
    path = tmp_path_factory.mktemp("rclone-s3") / "rclone.conf"
    return servers.write_conf(path, [s3_remote])


def remote_config(server: servers.LoopbackRemote, conf: Path | None, **kw: object) -> RemoteConfig:
    """A [[remote]] on `server` under a prefix no other test uses (servers are shared)."""
    kw.setdefault("prefix", f"t{next(_serial)}/host/registry/")
    return RemoteConfig(name=server.name, target=server.target, rclone_config=conf, **kw)  # type: ignore[arg-type]


@pytest.fixture(params=["sftp", "webdav", "s3"])
def any_remote(request: pytest.FixtureRequest) -> RemoteConfig:
    """Each of the three servers in turn, as a RemoteConfig with a fresh prefix."""
    if request.param == "s3":
        return remote_config(
            request.getfixturevalue("s3_remote"), request.getfixturevalue("s3_conf")
        )
    server = request.getfixturevalue(f"{request.param}_remote")
    return remote_config(server, request.getfixturevalue("rclone_conf"))
