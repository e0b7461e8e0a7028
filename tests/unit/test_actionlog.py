"""`action-log` lines wait in order while the outbox refuses them; past the bound the
newest are dropped, and their count goes to the action's log where they would have been."""

from __future__ import annotations

import pytest

from runecraft.agents import _actionlog
from runecraft.schemas import bus


class Link:
    """An outbox that takes messages while `open`."""

    def __init__(self) -> None:
        self.open = True
        self.sent: list[str] = []

    async def send(self, line: bus.ActionLog) -> bool:
        if self.open:
            self.sent.append(line.message)
        return self.open


def line(message: str) -> bus.ActionLog:
    return bus.ActionLog(unit="app/0", action_id="5", message=message)


async def test_refused_lines_wait_and_go_in_order() -> None:
    link = Link()
    queue = _actionlog.ActionLogQueue(link.send, limit=3)
    assert await queue.add(line("a"))
    link.open = False
    assert not await queue.add(line("b"))
    assert not await queue.add(line("c"))
    assert queue.waiting == 2
    link.open = True
    assert await queue.flush()
    assert await queue.add(line("d"))
    assert link.sent == ["a", "b", "c", "d"]
    assert queue.waiting == 0


async def test_lines_past_the_bound_are_counted_in_the_log() -> None:
    link = Link()
    queue = _actionlog.ActionLogQueue(link.send, limit=2)
    link.open = False
    for message in "abcde":
        await queue.add(line(message))
    assert queue.waiting == 3  # two lines and the note of three dropped
    link.open = True
    assert await queue.flush()
    assert link.sent == ["a", "b", _actionlog.dropped_note(3)]
    assert _actionlog.dropped_note(3) == (
        "3 action-log lines dropped: the link to the controller was full"
    )


async def test_a_line_after_drops_follows_their_note() -> None:
    link = Link()
    queue = _actionlog.ActionLogQueue(link.send, limit=1)
    link.open = False
    for message in "abc":
        await queue.add(line(message))
    link.open = True
    assert await queue.add(line("d"))
    assert link.sent == ["a", _actionlog.dropped_note(2), "d"]


async def test_an_ended_action_forgets_its_waiting_lines() -> None:
    link = Link()
    queue = _actionlog.ActionLogQueue(link.send, limit=1)
    link.open = False
    await queue.add(line("a"))
    await queue.add(line("b"))
    queue.clear()
    link.open = True
    assert await queue.flush()
    assert link.sent == []


def test_a_bound_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="limit must be at least 1, not 0"):
        _actionlog.ActionLogQueue(Link().send, limit=0)
