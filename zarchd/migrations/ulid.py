"""26-character ULIDs (48-bit millisecond time + 80 random bits, Crockford base32), as 7zarch-go
uses for archive uids. Monotonic: ids made in the same millisecond increase, so a backfill of
thousands of rows yields distinct, sortable ids even with a coarse clock."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
_RANDOM_BITS = 80
_RANDOM_MAX = (1 << _RANDOM_BITS) - 1


def encode(value: int) -> str:
    """The 26-character base32 form of a 128-bit integer."""
    if not 0 <= value < (1 << 128):
        raise ValueError("a ULID is a 128-bit unsigned integer")
    chars = []
    for _ in range(26):
        chars.append(ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


class UlidGenerator:
    """Callable making monotonic ULIDs; `now_ms` and `randbytes` are parameters for tests."""

    def __init__(
        self,
        now_ms: Callable[[], int] | None = None,
        randbytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._now_ms = now_ms or (lambda: time.time_ns() // 1_000_000)
        self._randbytes = randbytes
        self._last_ms = -1
        self._last_rand = 0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            ms = self._now_ms()
            if ms <= self._last_ms:
                # Same millisecond (or the clock stepped back): keep the time, bump the random part.
                ms, rand = self._last_ms, self._last_rand + 1
                if rand > _RANDOM_MAX:
                    ms, rand = ms + 1, 0
            else:
                rand = int.from_bytes(self._randbytes(10), "big")
            self._last_ms, self._last_rand = ms, rand
            return encode((ms << _RANDOM_BITS) | rand)
