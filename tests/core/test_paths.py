"""Default places: no Python warning reaches the user when the session has no runtime dir."""

from __future__ import annotations

import warnings

import pytest

from zarchd.core import paths


def test_default_socket_without_xdg_runtime_dir_warns_nobody(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.delenv("RUNTIME_DIRECTORY", raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # platformdirs' RuntimeDirWarning would raise here
        sock = paths.default_socket()
    assert sock.name == "zarchd.sock" and sock.is_absolute()
