"""Protocol fuzzing: whatever arrives, each line gets one well-formed answer; ping still works."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zarchd.control.protocol import METHODS
from zarchd.control.server import ControlServer
from zarchd.core.progress import Progress

from .helpers import Raw

PING_ID = "fuzz-ping"


def fast_handler(method: str, params: dict[str, Any], progress: Progress) -> Any:
    progress({"method": method})
    return {"method": method}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
requests = st.fixed_dictionaries(
    {},
    optional={
        "id": json_values,
        "method": st.sampled_from(sorted(METHODS)) | st.text(max_size=12),
        "params": st.dictionaries(
            st.sampled_from(["name", "to", "dry_run", "backup_only", "path"]),
            json_values,
            max_size=3,
        )
        | json_values,
        "extra": json_values,
    },
)
payloads = st.one_of(
    st.binary(max_size=400),
    st.text(max_size=200).map(str.encode),
    json_values.map(lambda v: json.dumps(v).encode()),
    requests.map(lambda v: json.dumps(v).encode()),
    st.lists(requests.map(lambda v: json.dumps(v).encode()), max_size=4).map(b"\n".join),
)


def _well_formed(answer: dict[str, Any]) -> None:
    kinds = set(answer) - {"id"}
    assert "id" in answer and len(kinds) == 1 and kinds <= {"result", "error", "progress"}, answer
    if "error" in answer:
        assert isinstance(answer["error"]["code"], str) and isinstance(
            answer["error"]["message"], str
        )


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[ControlServer]:
    """One live server for every example: what one input does must not break the next."""
    directory = Path(tempfile.mkdtemp(prefix="zf-", dir="/tmp"))
    server = ControlServer(directory / "zarchd.sock", fast_handler, idle_timeout=10.0)
    server.start()
    yield server
    server.stop(timeout=1.0)
    shutil.rmtree(directory, ignore_errors=True)


@settings(max_examples=200, deadline=None)
@given(payload=payloads)
def test_any_input_gets_well_formed_answers_and_the_server_keeps_serving(
    fuzz_server: ControlServer, payload: bytes
) -> None:
    server = fuzz_server
    requests_sent = sum(1 for line in payload.split(b"\n") if line.strip())
    with Raw(server.address) as conn:
        conn.send(payload + b"\n" + json.dumps({"id": PING_ID, "method": "ping"}).encode() + b"\n")
        finals = 0
        while True:
            answer = conn.line()
            assert answer is not None, "the server closed the connection"
            _well_formed(answer)
            if "progress" in answer:
                continue
            finals += 1
            if answer.get("id") == PING_ID and answer.get("result") == {"method": "ping"}:
                break
    assert finals == requests_sent + 1  # exactly one answer per request line
