"""RemoteTarget against the real loopback servers: upload, listing, verification, sidecars,
deletion, killed uploads, fleet; rclone's environment and error classification.

Every rclone call costs a few tenths of a second (the program's start), so each test makes few:
copies a test only needs to exist are planted straight into the server's directory (`plant`)."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.remote import servers
from tests.remote.conftest import remote_config
from zarchd.core.config import RemoteConfig
from zarchd.core.errors import RemoteError
from zarchd.remote.rclone import Rclone, classify, clean_env, last_line
from zarchd.remote.target import RemoteTarget, file_hashes

NAME = "registry-20261129-070000-zarchd.bak"


def make_backup(directory: Path, name: str = NAME, rows: int = 3) -> tuple[Path, dict[str, Any]]:
    path = directory / name
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (x TEXT)")
    con.executemany("INSERT INTO t VALUES (?)", [(f"row {i}",) for i in range(rows)])
    con.commit()
    con.close()
    data = path.read_bytes()
    meta = {
        "name": name,
        "created_at": "2026-11-29T07:00:00+00:00",
        "size_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "verified": True,
    }
    return path, meta


def plant(where: Path, local: Path, meta: dict[str, Any], sidecar: bool = True) -> None:
    """A copy as an upload leaves it, written straight into a server's directory."""
    where.mkdir(parents=True, exist_ok=True)
    (where / meta["name"]).write_bytes(local.read_bytes())
    if sidecar:
        (where / (meta["name"] + ".json")).write_text(
            json.dumps({"format": "zarchd-backup/1", **meta})
        )


def test_upload_list_download(any_remote: RemoteConfig, tmp_path: Path) -> None:
    target = RemoteTarget(any_remote, "laptop", "registry")
    assert target.list() == []  # nothing there yet (the directory does not even exist)
    local, meta = make_backup(tmp_path)
    copy = target.upload(local, NAME, meta)
    assert copy.complete and copy.sha256 == meta["sha256"]
    (listed,) = target.list()
    assert (listed.name, listed.size, listed.sha256, listed.complete, listed.verified) == (
        NAME,
        meta["size_bytes"],
        meta["sha256"],
        True,
        True,
    )
    assert listed.created == datetime(2026, 11, 29, 7, 0, tzinfo=UTC)
    back = tmp_path / "back"
    target.download(NAME, back)
    assert back.read_bytes() == local.read_bytes()


def test_sftp_hash_check_sidecar_and_delete(
    sftp_remote: servers.LoopbackRemote, rclone_conf: Path, tmp_path: Path
) -> None:
    target = RemoteTarget(remote_config(sftp_remote, rclone_conf), "h", "registry")
    local, meta = make_backup(tmp_path)
    assert sftp_remote.root is not None
    where = sftp_remote.root / target.prefix
    plant(where, local, meta)
    assert target.check_copy(NAME, local.stat().st_size, file_hashes(local)) == "sha1"
    sidecar = target.read_sidecar(NAME)
    assert sidecar is not None and sidecar["sha256"] == meta["sha256"]
    # a copy changed on the server is caught by the server's hash (same size, other bytes)
    data = bytearray((where / NAME).read_bytes())
    data[200] ^= 0xFF
    (where / NAME).write_bytes(bytes(data))
    with pytest.raises(RemoteError, match="sha1 on the remote differs"):
        target.check_copy(NAME, local.stat().st_size, file_hashes(local))
    target.delete(NAME)
    assert sorted(where.iterdir()) == []


def test_webdav_has_no_hash_so_the_copy_is_read_back_and_delete_false_deletes_nothing(
    webdav_remote: servers.LoopbackRemote, rclone_conf: Path, tmp_path: Path
) -> None:
    remote = remote_config(webdav_remote, rclone_conf, delete=False)
    target = RemoteTarget(remote, "h", "registry")
    local, meta = make_backup(tmp_path)
    assert webdav_remote.root is not None
    plant(webdav_remote.root / target.prefix, local, meta)
    assert target.check_copy(NAME, local.stat().st_size, file_hashes(local)) == "download"
    with pytest.raises(RemoteError, match="delete = false"):
        target.delete(NAME)
    assert target.cleanup(0, datetime.now(UTC) + timedelta(days=9)) == []
    assert (webdav_remote.root / target.prefix / NAME).exists()


def test_a_copy_without_its_sidecar_is_not_complete(
    sftp_remote: servers.LoopbackRemote, rclone_conf: Path, tmp_path: Path
) -> None:
    """A killed upload leaves a truncated file (SFTP, measured) or a file with no sidecar: listed
    as incomplete, never counted as a backup; a torn sidecar marks nothing complete either."""
    target = RemoteTarget(remote_config(sftp_remote, rclone_conf), "h", "registry")
    local, _meta = make_backup(tmp_path)
    assert sftp_remote.root is not None
    where = sftp_remote.root / target.prefix
    where.mkdir(parents=True)
    (where / NAME).write_bytes(local.read_bytes()[:100])  # what a kill mid-transfer leaves
    (where / (NAME + ".json")).write_text('{"format": "zarchd-backup/1", "na')  # torn sidecar
    (listed,) = target.list()
    assert listed.name == NAME and not listed.complete and listed.sha256 is None


def test_killed_upload_leaves_only_a_temporary_that_cleanup_removes(
    sftp_remote: servers.LoopbackRemote, rclone_conf: Path, tmp_path: Path
) -> None:
    remote = remote_config(sftp_remote, rclone_conf)
    target = RemoteTarget(remote, "h", "registry")
    big = tmp_path / NAME
    big.write_bytes(os.urandom(2 << 20))
    # a slow transfer, stopped by its deadline half way: nothing under the final name
    slow = RemoteTarget(replace(remote, bwlimit="256k"), "h", "registry")
    temp = f".{NAME}.zarchd-tmp-0123"
    assert sftp_remote.root is not None
    where = sftp_remote.root / target.prefix
    # Killed before rclone had started writing (a loaded machine) proves nothing: kill later.
    for timeout in (0.6, 1.2, 2.4, 4.8):  # the whole transfer takes 8 s at 256k
        with pytest.raises(RemoteError) as err:
            slow.rclone.run(["copyto", str(big), slow.path(temp)], transfer=True, timeout=timeout)
        assert err.value.kind == "timeout"
        if where.is_dir() and any(where.iterdir()):
            break
    assert [p.name for p in where.iterdir()] == [temp]
    now = datetime.now(UTC)
    (where / "registry-20261129-060000-zarchd.bak").write_bytes(b"x")  # not a temporary
    assert target.cleanup(86400, now) == []  # a fresh temporary may still be in flight
    assert target.cleanup(86400, now + timedelta(days=2)) == [temp]
    assert [p.name for p in where.iterdir()] == ["registry-20261129-060000-zarchd.bak"]


def test_hosts_lists_every_machine_under_a_target(
    sftp_remote: servers.LoopbackRemote, rclone_conf: Path, tmp_path: Path
) -> None:
    base = remote_config(sftp_remote, rclone_conf)
    top = base.prefix.split("/")[0]
    shared = replace(base, target=f"{sftp_remote.name}:{top}", prefix="")
    assert sftp_remote.root is not None
    local, meta = make_backup(tmp_path)
    plant(sftp_remote.root / top / "alpha" / "registry", local, meta)
    other = "other-20261129-070000-zarchd.bak"
    local2, meta2 = make_backup(tmp_path, other)
    plant(sftp_remote.root / top / "beta" / "other", local2, meta2)
    plant(sftp_remote.root / top / "gamma" / "registry", local, meta, sidecar=False)
    found = RemoteTarget(shared, "alpha", "registry").hosts()
    assert [(h.host, h.stem, h.copies, h.newest) for h in found] == [
        ("alpha", "registry", 1, NAME),
        ("beta", "other", 1, other),
    ]


def test_s3_upload_works_with_aws_ca_bundle_in_the_daemon_env(
    s3_remote: servers.LoopbackRemote, s3_conf: Path, tmp_path: Path
) -> None:
    """rclone 1.60's S3 backend fails outright when AWS_CA_BUNDLE is set: the child's env is
    cleaned. (Checked against old code: passing the env through makes this upload fail.)"""
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not a certificate\n")
    env = {**os.environ, "AWS_CA_BUNDLE": str(bundle)}
    remote = remote_config(s3_remote, s3_conf)
    target = RemoteTarget(remote, "h", "registry", rclone=Rclone(remote, env=env))
    local, meta = make_backup(tmp_path)
    target.upload(local, NAME, meta)
    assert target.check_copy(NAME, local.stat().st_size, file_hashes(local)) == "md5"
    raw = subprocess.run(
        ["rclone", "lsf", "--config", str(s3_conf), target.dir], env=env, capture_output=True
    )
    assert raw.returncode != 0  # the same call with the daemon's environment fails


def test_environment_and_errors(tmp_path: Path, rclone_bin: str) -> None:
    env = clean_env(
        {"PATH": "/bin", "HOME": "/h", "AWS_CA_BUNDLE": "/x", "RCLONE_CONFIG_A_TYPE": "local"}
    )
    assert env == {"PATH": "/bin", "HOME": "/h", "RCLONE_CONFIG_A_TYPE": "local"}
    assert classify(5, "") == "temporary" and classify(7, "") == "fatal"
    assert classify(3, "") == "not_found" and classify(9, "") == "nothing"
    assert classify(1, "couldn't connect SSH: dial tcp: connect: connection refused") == "temporary"
    assert classify(1, "unknown flag") == "error"
    assert last_line(
        "2026/11/29 06:54:37 NOTICE: Config file x not found - using defaults\n"
        "2026/11/29 06:54:37 Failed to create file system: boom\n"
    ) == ("Failed to create file system: boom")
    # a refused connection fails fast (low retries), classified temporary, rclone's words kept
    refused = RemoteConfig(name="gone", target="gone:")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "RCLONE_CONFIG_GONE_TYPE": "sftp",
        "RCLONE_CONFIG_GONE_HOST": "127.0.0.1",
        "RCLONE_CONFIG_GONE_PORT": "1",
        "RCLONE_CONFIG_GONE_USER": "u",
        "RCLONE_CONFIG_GONE_PASS": servers.obscure("p"),
    }
    target = RemoteTarget(refused, "h", "registry", rclone=Rclone(refused, env=env))
    with pytest.raises(RemoteError, match="connection refused") as err:
        target.list()
    assert err.value.kind == "temporary" and err.value.retryable
    missing = Rclone(refused, binary=str(tmp_path / "no-rclone"))
    with pytest.raises(RemoteError, match="not found on PATH") as err:
        missing.run(["version"])
    assert err.value.kind == "missing" and not err.value.retryable
