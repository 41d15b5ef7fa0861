"""Hundreds of clients at once; a long operation never holds up ping or status."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from zarchd.control.client import call
from zarchd.control.server import ControlServer

from .helpers import Handler, Raw

CLIENTS = 200


def test_two_hundred_concurrent_clients(server: ControlServer) -> None:
    start = threading.Barrier(CLIENTS)

    def one(i: int) -> Any:
        start.wait(10)
        return call(server.address, "prune", {"dry_run": i % 2 == 0}, timeout=20)

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(one, range(CLIENTS)))
    assert results == [
        {"method": "prune", "params": {"dry_run": i % 2 == 0}} for i in range(CLIENTS)
    ]


def test_two_hundred_connections_held_open_at_once(server: ControlServer) -> None:
    conns = [Raw(server.address) for _ in range(CLIENTS)]
    try:
        for i, conn in enumerate(conns):
            conn.request(i, "ping")
        assert [conn.line() for conn in conns] == [
            {"id": i, "result": {"pong": True}} for i in range(CLIENTS)
        ]
    finally:
        for conn in conns:
            conn.close()


def test_slow_method_does_not_block_ping_or_status(
    make_server: Callable[..., ControlServer], handler: Handler
) -> None:
    server = make_server(max_workers=2)
    results: list[Any] = []
    slow = [
        threading.Thread(target=lambda: results.append(call(server.address, "migrate", timeout=20)))
        for _ in range(3)
    ]  # more long operations than workers
    for thread in slow:
        thread.start()
    assert handler.in_flight.acquire(timeout=5) and handler.in_flight.acquire(timeout=5)
    # Both workers of the long-operation pool are busy (the third call waits its turn) ...
    assert call(server.address, "ping", timeout=5) == {"pong": True}
    assert call(server.address, "status", timeout=5)["daemon"]["running"] is True
    assert results == [] and all(
        t.is_alive() for t in slow
    )  # ... and ping/status answered meanwhile
    handler.release.set()
    for thread in slow:
        thread.join(10)
    assert results == [{"migrated": True}] * 3
