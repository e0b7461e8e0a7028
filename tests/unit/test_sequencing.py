"""The numbering rules of what agents report: report numbers and log offsets, by table, and
the agent's counter by property (whatever the controller holds, an agent converges)."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from runecraft.schemas import sequencing
from runecraft.schemas.sequencing import (
    LOG_BATCH_LIMIT,
    REPORT_WINDOW,
    LogCursor,
    LogVerdict,
    ReportVerdict,
)

W = REPORT_WINDOW


@pytest.mark.parametrize(
    ("stored", "accepted", "seq", "verdict"),
    [
        (0, 0, 1, ReportVerdict.APPLY),
        (0, 0, 0, ReportVerdict.STALE),
        (5, 5, 4, ReportVerdict.STALE),
        (5, 5, 5, ReportVerdict.STALE),
        (5, 5, 6, ReportVerdict.APPLY),
        (5, 5, 5 + W, ReportVerdict.APPLY),
        (5, 5, 6 + W, ReportVerdict.FUTURE),
        (0, 0, 2**62, ReportVerdict.FUTURE),
        (0, 0, 1_764_000_000_000_000_000, ReportVerdict.FUTURE),  # a clock in nanoseconds
        # Another kind of report moved the unit's highest number: the window follows it.
        (5, 1000, 1000 + W, ReportVerdict.APPLY),
        (5, 1000, 1001 + W, ReportVerdict.FUTURE),
    ],
    ids=[
        "first",
        "zero",
        "older",
        "replay",
        "next",
        "window-edge",
        "past-window",
        "2**62",
        "wall-clock",
        "window-follows-other-kinds",
        "past-that-window",
    ],
)
def test_report_verdict(stored: int, accepted: int, seq: int, verdict: ReportVerdict) -> None:
    assert sequencing.report_verdict(stored, accepted, seq) is verdict


@pytest.mark.parametrize(
    ("current", "accepted", "expected"),
    [
        (0, 0, 0),
        (7, 3, 7),  # ahead of what was accepted (reports in flight): keeps counting
        (0, 5000, 5000),  # lost its state: counts on from what the controller holds
        (2 + W, 3, 2 + W),
        (3 + W, 3, 3),  # its next report would be refused: starts over above it
        (2**62, 10, 10),
    ],
    ids=["fresh", "ahead", "wiped", "inside-window", "window-edge", "from-the-clock"],
)
def test_agent_seq(current: int, accepted: int, expected: int) -> None:
    assert sequencing.agent_seq(current, accepted) == expected


@example(current=W, stored=0, others=0)
@example(current=W - 1, stored=0, others=0)
@given(
    current=st.integers(0, 2**63 - 1),
    stored=st.integers(0, 2**62),
    others=st.integers(0, 2**20),
)
def test_an_agent_that_adopts_the_snapshot_is_heard_next(
    current: int, stored: int, others: int
) -> None:
    """Whatever its counter says, once an agent took in a snapshot its next report is
    stored (the controller accepted `stored` for this kind, `accepted` of any kind)."""
    accepted = stored + others
    adopted = sequencing.agent_seq(current, accepted)
    assert sequencing.report_verdict(stored, accepted, adopted + 1) is ReportVerdict.APPLY


@given(current=st.integers(0, 2**40), accepted=st.integers(0, 2**40))
def test_an_agent_never_counts_below_what_the_controller_accepted(
    current: int, accepted: int
) -> None:
    assert sequencing.agent_seq(current, accepted) >= accepted


@pytest.mark.parametrize(
    ("cursor", "generation", "offset", "end", "verdict"),
    [
        (LogCursor(0, 0), 0, 0, 0, LogVerdict.DUPLICATE),  # the agent's "where are you?"
        (LogCursor(0, 0), 0, 0, 10, LogVerdict.APPEND),
        (LogCursor(0, 10), 0, 10, 20, LogVerdict.APPEND),
        (LogCursor(0, 10), 0, 0, 10, LogVerdict.DUPLICATE),
        (LogCursor(0, 10), 0, 5, 20, LogVerdict.OVERLAP),
        (LogCursor(0, 10), 0, 11, 20, LogVerdict.FUTURE),
        (LogCursor(0, 10), 0, 10**12, 10**12 + 5, LogVerdict.FUTURE),
        (LogCursor(0, 10), 0, 10, 10 + LOG_BATCH_LIMIT + 1, LogVerdict.FUTURE),
        (LogCursor(0, 10), 0, 20, 10, LogVerdict.FUTURE),
        (LogCursor(0, 10), 1, 0, 5, LogVerdict.RESTART),
        (LogCursor(0, 10), 1, 0, 0, LogVerdict.RESTART),
        (LogCursor(0, 10), 1, 3, 5, LogVerdict.FUTURE),
        (LogCursor(0, 10), 2, 0, 5, LogVerdict.FUTURE),
        (LogCursor(2, 10), 1, 0, 50, LogVerdict.DUPLICATE),
        (LogCursor(2, 10), 0, 0, 0, LogVerdict.DUPLICATE),
    ],
    ids=[
        "query",
        "first",
        "next",
        "resent",
        "overlap",
        "gap",
        "offset-10**12",
        "too-big",
        "ends-before-start",
        "rotated",
        "rotated-empty",
        "rotated-not-at-0",
        "generation-skipped",
        "older-generation",
        "query-after-rotation",
    ],
)
def test_log_verdict(
    cursor: LogCursor, generation: int, offset: int, end: int, verdict: LogVerdict
) -> None:
    assert sequencing.log_verdict(cursor, generation, offset, end) is verdict


LINES = st.lists(st.text("abc", min_size=0, max_size=5), min_size=1, max_size=8)


@given(lines=LINES, data=st.data())
def test_replays_and_batches_from_the_future_never_duplicate_or_lose_a_line(
    lines: list[str], data: st.DataObject
) -> None:
    """An honest shipper (one batch at a time, from the acknowledged offset) against a
    controller that keeps the lines `log_verdict` lets through, while the bus replays old
    batches and delivers forged ones far beyond the file: each line is kept once, in order."""
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    sent: list[tuple[int, int, int, str]] = []
    cursor, kept = LogCursor(), []

    def deliver(generation: int, offset: int, end: int, line: str) -> None:
        nonlocal cursor
        verdict = sequencing.log_verdict(cursor, generation, offset, end)
        if verdict in (LogVerdict.APPEND, LogVerdict.RESTART):
            kept.append(line)
            cursor = LogCursor(generation, end)

    for _ in range(4 * len(lines) + 4):
        if cursor.offset in starts[:-1]:
            index = starts.index(cursor.offset)
            honest = (0, starts[index], starts[index + 1], lines[index])
            sent.append(honest)
            deliver(*honest)
        noise = data.draw(st.sampled_from(["none", "replay", "future"]))
        if noise == "replay" and sent:
            deliver(*data.draw(st.sampled_from(sent)))
        elif noise == "future":
            offset = data.draw(st.integers(starts[-1] + 1, 2**62))
            deliver(data.draw(st.integers(0, 3)), offset, offset + 5, "forged")
    assert kept == lines
    assert cursor == LogCursor(0, starts[-1])
