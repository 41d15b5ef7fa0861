"""Only the daemon's own uid and root may use the socket, whatever its file mode says."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from zarchd.control.client import call
from zarchd.control.peercred import peer_cred
from zarchd.control.server import ControlServer
from zarchd.core.errors import Forbidden

from .helpers import Handler, Raw

REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534

CLIENT_SCRIPT = textwrap.dedent("""
    import json, os, sys
    from pathlib import Path
    from zarchd.control.client import call
    from zarchd.core.errors import ZarchError
    try:
        out = {"result": call(Path(sys.argv[1]), "status", timeout=5)}
    except ZarchError as exc:
        out = {"code": exc.code, "message": exc.message}
    out["uid"] = os.getuid()
    print(json.dumps(out))
""")


SETPRIV = shutil.which("setpriv")


def _as_nobody() -> list[str]:
    # setpriv (util-linux) also works where the interpreter sits in a directory only root may
    # search, e.g. /root/.pyenv: there an exec after os.setuid() in preexec_fn is denied.
    return [SETPRIV, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"] if SETPRIV else []


def _become_nobody_unless_setpriv() -> None:
    if not SETPRIV:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)


def test_peer_cred_reads_our_own_uid(server: ControlServer) -> None:
    with Raw(server.address) as conn:
        cred = peer_cred(
            conn.sock
        )  # the server's end would see us; here we see the server: same uid
    assert cred.uid == os.geteuid() and cred.pid == os.getpid()


def test_uid_not_allowed_is_refused_before_any_method_runs(
    make_server: Callable[..., ControlServer], handler: Handler
) -> None:
    server = make_server(allowed_uids={os.getuid() + 4242})
    with pytest.raises(Forbidden) as info:
        call(server.address, "status")
    assert f"uid {os.getuid()} may not control this zarchd" in info.value.message
    with Raw(server.address) as conn:
        answer = conn.line()
        assert (
            answer is not None and answer["error"]["code"] == "forbidden" and answer["id"] is None
        )
        assert conn.closed()
    assert handler.calls == []


def _client_as_nobody(path: Path) -> dict:
    proc = subprocess.run(
        [*_as_nobody(), sys.executable, "-c", CLIENT_SCRIPT, str(path)],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        preexec_fn=_become_nobody_unless_setpriv,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["uid"] == NOBODY, out
    return out


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as nobody")
def test_another_user_is_refused_even_through_an_open_socket(
    server: ControlServer, handler: Handler, sock_dir: Path
) -> None:
    # First the file modes stop nobody, and the client says so in a sentence.
    out = _client_as_nobody(server.address)
    assert out["code"] == "failed" and "the socket belongs to another user" in out["message"], out
    # Then open every mode wide: only the peer-credential check is left, and it refuses.
    for path in (sock_dir, server.address.parent, server.address):
        os.chmod(path, 0o777)
    out = _client_as_nobody(server.address)
    assert out["code"] == "forbidden", out
    assert f"uid {NOBODY} may not control this zarchd" in out["message"]
    assert handler.calls == []
    assert call(server.address, "ping") == {"pong": True}  # root (the owner) still gets in
