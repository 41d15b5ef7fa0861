"""The ULID generator used to backfill archive uids."""

from __future__ import annotations

from zarchd.migrations.ulid import ALPHABET, UlidGenerator, encode


def test_shape_and_alphabet() -> None:
    gen = UlidGenerator()
    ids = [gen() for _ in range(1000)]
    assert all(len(u) == 26 and set(u) <= set(ALPHABET) for u in ids)
    assert len(set(ids)) == 1000
    assert not set("ILOU") & set("".join(ids))


def test_monotonic_within_one_millisecond() -> None:
    gen = UlidGenerator(now_ms=lambda: 1_723_600_000_000, randbytes=lambda n: b"\x00" * n)
    ids = [gen() for _ in range(100)]
    assert ids == sorted(ids) and len(set(ids)) == 100
    assert all(u[:10] == ids[0][:10] for u in ids)  # same time part


def test_time_prefix_and_clock_going_back() -> None:
    ticks = iter([2000, 1000, 3000])
    gen = UlidGenerator(now_ms=lambda: next(ticks), randbytes=lambda n: b"\x01" * n)
    first, second, third = gen(), gen(), gen()
    assert first[:10] == encode(2000 << 80)[:10]
    assert first < second < third  # a clock stepping back does not break the order


def test_random_overflow_moves_to_next_millisecond() -> None:
    gen = UlidGenerator(now_ms=lambda: 5, randbytes=lambda n: b"\xff" * n)
    a = gen()
    b = gen()
    assert a < b and b == encode(6 << 80)


def test_encode_edges() -> None:
    assert encode(0) == "0" * 26
    assert encode((1 << 128) - 1) == "7" + "Z" * 25
