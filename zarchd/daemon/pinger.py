"""Healthchecks-style pings: <url>/start, <url> on success, <url>/fail on failure. A plain HTTP
POST (the message as its body) with a timeout, retried a few times; run by a worker thread."""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger(__name__)

PING_TIMEOUT_S = 10.0
ATTEMPTS = 3
RETRY_WAIT_S = 2.0  # doubled after each attempt
SUFFIX = {"start": "/start", "success": "", "fail": "/fail"}
BODY_LIMIT = 10_000  # healthchecks.io keeps the first 100 kB of a ping's body


def ping_address(url: str, kind: str) -> str:
    """`url` with /start or /fail added to its path (a query string stays at the end)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + SUFFIX[kind]))


def ping(
    url: str,
    kind: str,
    message: str = "",
    *,
    timeout: float = PING_TIMEOUT_S,
    attempts: int = ATTEMPTS,
    retry_wait: float = RETRY_WAIT_S,
    stopping: threading.Event | None = None,
) -> bool:
    """Send one ping; True once a server answered 2xx. Waits between attempts end early when
    `stopping` is set (the daemon is shutting down)."""
    address = ping_address(url, kind)
    body = message.encode("utf-8")[:BODY_LIMIT]
    wait = retry_wait
    problem = ""
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(
            address, data=body, method="POST", headers={"Content-Type": "text/plain"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read(1024)
            return True
        except urllib.error.HTTPError as exc:
            problem = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            problem = str(getattr(exc, "reason", exc))
        if attempt < attempts:
            log.debug("ping %s failed (%s); retrying in %gs", kind, problem, wait)
            if stopping is not None and stopping.wait(wait):
                break
            wait *= 2
    host = urlsplit(address).netloc  # not the whole URL: its path is often the secret token
    log.warning("ping %s to %s failed after %d attempt(s): %s", kind, host, attempt, problem)
    return False
