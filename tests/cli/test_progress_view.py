"""The progress view: drawn on a real pseudo-terminal, plain when piped, silent when told."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

import pytest

from tests.cli.terminal import Pty, screen
from zarchd.cli.progress_view import ProgressView

MiB = 1 << 20
KEEPALIVE = {"stage": "backup", "message": "still working", "keepalive": True}


class Clock:
    """Monotonic seconds that only the test moves."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def term() -> Iterator[Pty]:
    t = Pty()
    yield t
    t.close()


def ev(stage: str, phase: str, done: int = 0, total: int | None = None, **more: object) -> dict:
    return {"stage": stage, "phase": phase, "unit": "bytes", "done": done, "total": total, **more}


def test_terminal_draws_stages_with_rate_and_eta_keeps_alive_and_clears(term: Pty) -> None:
    clock = Clock()
    view = ProgressView(stream=term.stream, clock=clock, ticker=False)
    view(ev("copy", "start", 0, 100 * MiB))
    clock.t += 1
    view(ev("copy", "update", 40 * MiB, 100 * MiB))
    assert screen(term.read()) == ["[0:01] copy 40.0 MiB / 100 MiB  40.0 MiB/s  ETA 0:01"]
    drawn = term.read()
    clock.t += 0.05
    view(ev("copy", "update", 45 * MiB, 100 * MiB))
    assert term.read() == drawn  # at most ten redraws a second
    clock.t += 0.95
    view(ev("copy", "update", 30 * MiB, 100 * MiB))  # backwards: not shown
    assert screen(term.read())[-1].startswith("[0:02] copy 45.0 MiB / 100 MiB  22.5 MiB/s  ETA")
    clock.t += 0.5
    view(ev("copy", "end", 100 * MiB, 100 * MiB))
    view(ev("check", "start"))  # integrity_check: nothing to measure until it is done
    clock.t += 5
    view(KEEPALIVE)  # the daemon's "still working" does not replace anything
    view.tick()  # what the ticker thread does ten times a second
    assert screen(term.read()) == [
        "[0:02] copy 100 MiB in 2.5s, 40.0 MiB/s",
        "[0:07] check ⠋ 0:05",
    ]
    clock.t += 0.1
    view.tick()
    assert screen(term.read())[-1] == "[0:07] check ⠙ 0:05"  # the spinner turns
    clock.t += 1
    view(ev("check", "end"))
    view(ev("hash", "start", 0, 100 * MiB))
    clock.t += 0.2
    view(ev("hash", "update", 50 * MiB, 100 * MiB))
    view.close()
    raw = term.read()
    # Finished stages stay, one line each; the running one is erased; the cursor is on a new line.
    assert screen(raw) == [
        "[0:02] copy 100 MiB in 2.5s, 40.0 MiB/s",
        "[0:08] check done in 6.1s",
        "",
    ]
    copied = [float(m) for m in re.findall(r"copy ([\d.]+) MiB", raw)]
    assert copied == sorted(copied) and copied[-1] == 100  # never backwards within a stage
    assert "hash 50.0 MiB / 100 MiB" in raw  # it was drawn while it ran


def test_nested_stages_each_get_a_line_and_migrations_say_their_unit(term: Pty) -> None:
    clock = Clock()
    view = ProgressView(stream=term.stream, clock=clock, ticker=False)
    migrate = {"stage": "migrate", "unit": "migrations", "total": 3}
    view({**migrate, "phase": "start", "done": 0, "of": "0001_baseline"})
    clock.t += 1
    view({**migrate, "phase": "update", "done": 1, "of": "0002_identity_and_status"})
    view({"stage": "backfill", "phase": "start", "unit": "rows", "done": 0, "total": 2000})
    clock.t += 1
    view({"stage": "backfill", "phase": "update", "unit": "rows", "done": 1000, "total": 2000})
    assert screen(term.read()) == [
        "[0:02] migrate 0002_identity_and_status 1 / 3 migrations",  # no rate: they differ
        "[0:02] backfill 1,000 / 2,000 rows  1,000 rows/s  ETA 0:01",
    ]
    clock.t += 1
    view({"stage": "backfill", "phase": "end", "unit": "rows", "done": 2000, "total": 2000})
    view({**migrate, "phase": "end", "done": 3, "of": "0005_search_index"})
    view.close()
    assert screen(term.read()) == [
        "[0:03] backfill 2,000 rows in 2.0s, 1,000 rows/s",
        "[0:03] migrate 0005_search_index 3 migrations in 3.0s",
        "",
    ]


def test_piped_progress_is_one_plain_line_per_stage_start_and_end() -> None:
    clock = Clock()
    out = io.StringIO()
    view = ProgressView(stream=out, clock=clock, ticker=False)
    view(ev("copy", "start", 0, 100 * MiB))
    for mib in range(1, 101):
        clock.t += 0.025
        view(ev("copy", "update", mib * MiB, 100 * MiB))
    view(KEEPALIVE)
    view(ev("copy", "end", 100 * MiB, 100 * MiB))
    view(ev("check", "start", of="registry-x\x1b[2J.bak"))  # a hostile name stays inert
    clock.t += 1
    view(ev("check", "end"))
    view.close()
    assert out.getvalue().splitlines() == [
        "[0:00] copy started, 100 MiB",
        "[0:02] copy 100 MiB in 2.5s, 40.0 MiB/s",
        r"[0:02] check registry-x\x1b[2J.bak started",
        r"[0:03] check registry-x\x1b[2J.bak done in 1.0s",
    ]
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_no_progress_at_all_when_not_shown(term: Pty) -> None:
    view = ProgressView(show=False, stream=term.stream)
    view(ev("copy", "start", 0, MiB))
    view(ev("copy", "update", MiB // 2, MiB))
    view.tick()
    view.close()
    assert term.read() == ""


def test_the_ticker_thread_redraws_a_silent_stage_and_stops_on_close(term: Pty) -> None:
    view = ProgressView(stream=term.stream)  # the real clock and ticker
    view(ev("check", "start"))
    before = term.read()
    thread = view._thread
    assert thread is not None
    # No sleep: wait (with a deadline) for the ticker to draw again on its own.
    for _ in range(200):
        if term.read() != before:
            break
        thread.join(0.01)
    assert term.read() != before
    view.close()
    assert not thread.is_alive()
    assert screen(term.read()) == [""]  # the running line was erased


def test_lines_are_cut_to_the_terminal_width_so_redraws_stay_in_place() -> None:
    term = Pty(columns=40)
    try:
        clock = Clock()
        view = ProgressView(stream=term.stream, clock=clock, ticker=False)
        long_name = "registry-20260314-120000-zarchd-with-a-long-tail.bak"
        view(ev("hash", "start", 0, MiB, of=long_name))
        view(ev("check", "start", of=long_name))
        for _ in range(3):
            clock.t += 1
            view(ev("hash", "update", MiB // 2, MiB, of=long_name))
            view.tick()
        lines = screen(term.read())
        assert len(lines) == 2 and all(len(line) < 40 and line.endswith("…") for line in lines)
        assert lines[0].startswith("[0:03] hash registry-") and lines[1].startswith("[0:03] check")
        view.close()
    finally:
        term.close()


def test_log_lines_go_above_the_running_lines_not_into_them(term: Pty) -> None:
    clock = Clock()
    logger = logging.getLogger("tests.progress_view")
    handler = logging.StreamHandler(term.stream)
    logger.addHandler(handler)
    try:
        view = ProgressView(stream=term.stream, clock=clock, ticker=False)
        view.route_logging(logger)
        view(ev("copy", "start", 0, 10 * MiB))
        clock.t += 1
        view(ev("copy", "update", 5 * MiB, 10 * MiB))
        logger.warning("zarchctl: restore (manual) failed after 1.0 s")
        assert screen(term.read()) == [
            "zarchctl: restore (manual) failed after 1.0 s",
            "[0:01] copy 5.00 MiB / 10.0 MiB  5.00 MiB/s  ETA 0:01",
        ]
        view.close()
        assert handler.stream is term.stream  # given back
        logger.warning("after")
        assert screen(term.read()) == ["zarchctl: restore (manual) failed after 1.0 s", "after", ""]
    finally:
        logger.removeHandler(handler)
