"""The Pebble agent's changes, tasks and notices: statuses, lanes, errors, JSON, long-polls."""

from __future__ import annotations

import asyncio
import datetime
import json
import re
from pathlib import Path

import ops.pebble
import pytest

from runecraft.agents.pebble import _state

LOG_LINE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z (INFO|ERROR) ")


def test_ids_are_decimal_strings_with_separate_counters() -> None:
    state = _state.State()
    first = state.new_change("start", "one")
    tasks = [first.add_task("start", f"task {n}") for n in range(3)]
    second = state.new_change("stop", "two")
    assert (first.id, second.id) == ("1", "2")
    assert [task.id for task in tasks] == ["1", "2", "3"]
    assert second.add_task("stop", "x").id == "4"
    assert state.change("2") is second and state.task("3") is tasks[2]
    assert state.change("9") is None and state.task("9") is None


def test_change_status_is_derived_in_pebbles_priority_order() -> None:
    state = _state.State()
    change = state.new_change("start", "s")
    assert change.status == "Hold" and change.ready
    a, b = change.add_task("start", "a"), change.add_task("start", "b")
    assert change.status == "Do" and not change.ready
    a.set_status("Doing")
    assert change.status == "Doing"
    a.set_status("Done")
    assert change.status == "Do"
    b.set_status("Error")
    assert change.status == "Error" and change.ready
    other = state.new_change("x", "x")
    other.add_task("x", "x").set_status("Done")
    other.add_task("x", "y").set_status("Hold")
    assert other.status == "Done"
    empty = state.new_change("replan", "Replan - no services")
    empty.set_status("Done")
    assert empty.status == "Done" and empty.ready


def test_a_failed_task_holds_its_lane_and_what_waits_on_it_not_other_lanes() -> None:
    state = _state.State()
    change = state.new_change("restart", "r")
    stop_a = change.add_task("stop", "Stop a", lane=1)
    stop_b = change.add_task("stop", "Stop b", lane=2)
    after_a = change.add_task("stop", "Stop a2", lane=1)
    start = change.add_task("start", "Start a", lane=3, waits=[stop_a, stop_b])
    start_next = change.add_task("start", "Start c", lane=3)
    assert after_a.waits == (stop_a,) and start_next.waits == (start,)
    stop_a.set_status("Doing")
    stop_b.set_status("Doing")
    stop_a.fail("boom")
    assert [t.status for t in change.tasks] == ["Error", "Doing", "Hold", "Hold", "Hold"]
    assert change.status == "Doing"
    stop_b.set_status("Done")
    assert change.status == "Error"
    assert change.err == "cannot perform the following tasks:\n- Stop a (boom)"


def test_task_log_keeps_the_last_ten_lines_and_err_lists_every_logged_error() -> None:
    state = _state.State()
    change = state.new_change("perform-check", 'Perform exec check "c"')
    task = change.add_task("perform-check", 'Perform exec check "c"')
    for n in range(12):
        task.log(f"line {n}")
    task.log("first failure", "ERROR")
    task.fail("second failure")
    assert len(task.logs) == 10
    assert all(LOG_LINE.match(line) for line in task.logs)
    assert task.logs[0].endswith(" INFO line 4")
    assert change.err == (
        "cannot perform the following tasks:\n"
        '- Perform exec check "c" (first failure)\n'
        '- Perform exec check "c" (second failure)'
    )


def test_change_json_is_what_ops_reads() -> None:
    state = _state.State()
    change = state.new_change("exec", "Execute command", data={"x": 1})
    task = change.add_task("exec", "Execute command")
    pending = ops.pebble.Change.from_dict(change.to_json())
    assert pending.status == "Do" and not pending.ready and pending.ready_time is None
    assert pending.tasks[0].progress.done == 0 and pending.tasks[0].progress.total == 1
    task.set_status("Doing")
    task.data["exit-code"] = 3
    task.fail("exited")
    body = change.to_json()
    parsed = ops.pebble.Change.from_dict(body)
    assert parsed.id == change.id and parsed.kind == "exec" and parsed.ready
    assert parsed.status == "Error" and parsed.err == change.err
    assert parsed.tasks[0].data == {"exit-code": 3} and parsed.data == {"x": 1}
    assert parsed.tasks[0].progress.done == 1
    assert parsed.spawn_time == _state.parse_time(body["spawn-time"])
    assert parsed.ready_time is not None and parsed.ready_time >= parsed.spawn_time
    quiet = state.new_change("start", "s").to_json()
    assert set(quiet) == {"id", "kind", "summary", "status", "ready", "spawn-time"}


def test_times_print_and_parse_back_exactly_at_microseconds() -> None:
    moment = datetime.datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=datetime.UTC)
    assert _state.format_time(moment) == "2026-01-02T03:04:05.12Z"
    assert _state.parse_time("2026-01-02T03:04:05.12Z") == moment
    whole = moment.replace(microsecond=0)
    assert _state.format_time(whole) == "2026-01-02T03:04:05Z"
    assert _state.parse_time("2026-01-02T05:04:05.120000999+02:00") == moment
    with pytest.raises(ValueError, match="RFC3339"):
        _state.parse_time("yesterday")


async def test_wait_change_returns_once_ready_and_times_out_otherwise() -> None:
    state = _state.State()
    change = state.new_change("start", "s")
    task = change.add_task("start", "s")
    with pytest.raises(TimeoutError):
        await state.wait_change(change.id, 0.01)
    waiter = asyncio.create_task(state.wait_change(change.id, 10))
    await asyncio.sleep(0)
    assert not waiter.done()
    task.set_status("Done")
    assert await waiter is change
    with pytest.raises(KeyError):
        await state.wait_change("42", 1)


def change_notice(state: _state.State, change: _state.Change) -> _state.Notice:
    [notice] = state.notices(types=["change-update"], keys=[change.id])
    return notice


def test_change_update_notices_on_creation_and_each_transition_but_not_flips() -> None:
    state = _state.State()
    change = state.new_change("perform-check", "p", notice_data={"check-name": "c"})
    notice = change_notice(state, change)
    assert notice.occurrences == 1 and notice.user_id is None
    assert notice.last_data == {"kind": "perform-check", "check-name": "c"}
    a = change.add_task("perform-check", "a", lane=1)
    b = change.add_task("perform-check", "b", lane=2)
    a.set_status("Doing")
    assert change_notice(state, change).occurrences == 2
    a.set_status("Done")  # Doing -> Do: a flip, skipped
    b.set_status("Doing")  # Do -> Doing: same as last recorded
    assert change_notice(state, change).occurrences == 2
    b.fail("down")
    assert change_notice(state, change).occurrences == 3
    assert change_notice(state, change).id == notice.id


def test_status_listeners_see_every_transition() -> None:
    state = _state.State()
    seen: list[tuple[str, str, str]] = []
    state.add_status_listener(lambda change, old, new: seen.append((change.id, old, new)))
    change = state.new_change("start", "s")
    task = change.add_task("start", "s")
    task.set_status("Doing")
    task.set_status("Done")
    assert seen == [("1", "Default", "Doing"), ("1", "Doing", "Done")]


def test_notices_are_unique_per_user_type_and_key_with_one_id_counter() -> None:
    state = _state.State()
    a = state.add_notice(user_id=1000, type="custom", key="example.com/a", data={"n": "1"})
    again = state.add_notice(user_id=1000, type="custom", key="example.com/a", data={"n": "2"})
    other_user = state.add_notice(user_id=1001, type="custom", key="example.com/a")
    public = state.add_notice(user_id=None, type="custom", key="example.com/a")
    assert again is a and a.occurrences == 2 and a.last_data == {"n": "2"}
    assert a.last_repeated == a.last_occurred
    assert [a.id, other_user.id, public.id] == ["1", "2", "3"]
    assert state.new_change("x", "x") and state.notices(types=["change-update"])[0].id == "4"
    parsed = ops.pebble.Notice.from_dict(a.to_json())
    assert parsed.user_id == 1000 and parsed.occurrences == 2
    assert parsed.expire_after == datetime.timedelta(days=7) and parsed.repeat_after is None


def test_repeat_after_holds_last_repeated_until_it_elapses() -> None:
    state = _state.State()
    notice = state.add_notice(user_id=0, type="custom", key="a.b/c", repeat_after=3600)
    first = notice.last_repeated
    state.add_notice(user_id=0, type="custom", key="a.b/c", repeat_after=3600)
    assert notice.occurrences == 2 and notice.last_repeated == first
    assert notice.last_occurred > first
    assert notice.to_json()["repeat-after"] == "1h0m0s"
    state.add_notice(user_id=0, type="custom", key="a.b/c")
    assert notice.last_repeated > first


def test_notice_filters() -> None:
    state = _state.State()
    mine = state.add_notice(user_id=1000, type="custom", key="example.com/mine")
    theirs = state.add_notice(user_id=1001, type="custom", key="example.com/theirs")
    public = state.add_notice(user_id=None, type="warning", key="disk full")
    assert state.notices(user_id=1000) == [mine, public]
    assert state.notices() == [mine, theirs, public]
    assert state.notices(types=["custom"]) == [mine, theirs]
    assert state.notices(keys=["example.com/theirs", "disk full"]) == [theirs, public]
    after = _state.parse_time(_state.format_time(theirs.last_repeated))
    assert state.notices(after=after) == [public]
    state.add_notice(user_id=1000, type="custom", key="example.com/mine")
    assert state.notices() == [theirs, public, mine]


async def test_a_long_poll_wakes_on_a_matching_notice_only() -> None:
    state = _state.State()
    old = state.add_notice(user_id=0, type="custom", key="example.com/old")
    after = _state.parse_time(_state.format_time(old.last_repeated))
    poll = asyncio.create_task(state.wait_notices(timeout=30, types=["custom"], after=after))
    await asyncio.sleep(0)
    state.new_change("start", "not a custom notice")
    await asyncio.sleep(0)
    assert not poll.done()
    new = state.add_notice(user_id=0, type="custom", key="example.com/new")
    assert await asyncio.wait_for(poll, 10) == [new]
    assert await state.wait_notices(timeout=0.01, keys=["example.com/none"]) == []


@pytest.mark.parametrize(
    ("key", "data", "message"),
    [
        ("example.com/path", {"a": "b"}, None),
        ("a.b/c-d/e", None, None),
        ("nodomain", None, 'invalid key "nodomain" (must be in "example.com/path" format)'),
        ("Example.com/x", None, "must be in"),
        ("example.com/" + "x" * 260, None, "key must be 256 bytes or less"),
        ("example.com/x", {"k": "v" * 4096}, "total size of data must be 4096 bytes or less"),
        ("example.com/x", {"k": 1}, "cannot decode notice data"),
    ],
)
def test_custom_notice_validation(
    key: str, data: dict[str, object] | None, message: str | None
) -> None:
    if message is None:
        assert _state.validate_custom_notice(key, data) == (data or {})
    else:
        with pytest.raises(_state.NoticeError, match=re.escape(message)):
            _state.validate_custom_notice(key, data)


async def test_run_executes_lanes_in_order_and_holds_after_a_failure() -> None:
    state = _state.State()
    change = state.new_change("start", "s")
    order: list[str] = []
    gate = asyncio.Event()
    a1 = change.add_task("start", "a1", lane=1)
    change.add_task("start", "a2", lane=1)
    b1 = change.add_task("start", "b1", lane=2)

    async def handler(task: _state.Task) -> None:
        order.append(task.summary)
        if task is b1:
            await gate.wait()
        if task is a1:
            raise RuntimeError("a1 broke")

    state.run(change, handler)
    await a1.wait(10)
    assert change.status == "Doing" and [t.status for t in change.tasks] == [
        "Error",
        "Hold",
        "Doing",
    ]
    gate.set()
    await state.wait_change(change.id, 10)
    assert order == ["a1", "b1"] and change.status == "Error"
    assert change.err == "cannot perform the following tasks:\n- a1 (a1 broke)"


async def test_abort_cancels_a_running_task_and_holds_the_rest() -> None:
    state = _state.State()
    change = state.new_change("perform-check", "p")
    running = change.add_task("perform-check", "p", lane=1)
    change.add_task("perform-check", "later", lane=1)
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def handler(task: _state.Task) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    state.run(change, handler)
    await asyncio.wait_for(started.wait(), 10)
    assert running.status == "Doing"
    change.abort()
    await state.wait_change(change.id, 10)
    assert cancelled.is_set()
    assert [t.status for t in change.tasks] == ["Hold", "Hold"] and change.status == "Hold"
    await state.close()


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.moment = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)

    def __call__(self) -> datetime.datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += datetime.timedelta(**delta)


def test_ready_changes_are_pruned_oldest_first_to_500_and_after_24h() -> None:
    clock = Clock()
    state = _state.State(clock=clock)
    running = state.new_change("start", "in progress")
    running.add_task("start", "s").set_status("Doing")
    done = []
    for n in range(600):
        change = state.new_change("exec", f"run {n}")
        change.add_task("exec", f"run {n}").set_status("Done")
        done.append(change)
    kept = state.changes()
    assert kept == [running, *done[100:]]
    assert state.task(done[99].tasks[0].id) is None
    assert state.task(done[100].tasks[0].id) is done[100].tasks[0]
    clock.advance(hours=24, seconds=1)
    state.add_notice(user_id=None, type="warning", key="something")  # a prune is due
    assert state.changes() == [running]
    assert state.task(running.tasks[0].id) is running.tasks[0]
    assert state.new_change("exec", "new").id == "602"


def test_expired_notices_are_deleted(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / _state.NOTICES_FILE
    state = _state.State(clock=clock, path=path)
    old = state.add_notice(user_id=0, type="custom", key="example.com/old")
    clock.advance(days=6)
    recent = state.add_notice(user_id=0, type="custom", key="example.com/recent")
    clock.advance(days=1, seconds=1)
    assert state.notice(old.id) is None and state.notice(recent.id) is recent
    state.prune()
    state.flush()
    record = json.loads(path.read_text())
    assert [notice["key"] for notice in record["notices"]] == ["example.com/recent"]


async def test_notices_and_id_counters_are_written_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / _state.NOTICES_FILE
    state = _state.State(path=path, save_delay=3600)
    custom = state.add_notice(user_id=1000, type="custom", key="a.b/c", data={"x": "y"})
    assert path.stat().st_mode & 0o777 == 0o600  # custom notices are written at once
    state.add_notice(user_id=1000, type="custom", key="a.b/c", repeat_after=60)
    change = state.new_change("exec", "e")  # coalesced until the delay or the close
    change.add_task("exec", "e").set_status("Done")
    assert "change-update" not in path.read_text()
    await state.close()
    again = _state.State(path=path)
    again.load()
    assert [n.to_json() for n in again.notices()] == [n.to_json() for n in state.notices()]
    found = again.notice(custom.id)
    assert found is not None and found.key == "a.b/c"
    assert again.change(change.id) is None
    assert int(again.new_change("x", "x").id) == int(change.id) + 1
    assert int(again.add_notice(user_id=0, type="custom", key="a.b/d").id) == 4
    assert [p.name for p in tmp_path.iterdir()] == [_state.NOTICES_FILE]


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"version": 1}',
        "[]",
        json.dumps(
            {"version": 1, "last-notice-id": 1, "last-change-id": 0, "last-task-id": 0}
            | {"notices": [{"id": "x"}]}
        ),
    ],
)
def test_an_unreadable_notices_file_is_logged_and_ignored(
    tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / _state.NOTICES_FILE
    path.write_text(content)
    state = _state.State(path=path)
    state.load()
    assert state.notices() == []
    assert state.add_notice(user_id=0, type="custom", key="a.b/c").id == "1"
    assert "Cannot parse notices" in caplog.text
