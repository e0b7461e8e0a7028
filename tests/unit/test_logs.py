"""Log line parsing, entity filters, and the agent's log shipper protocol."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
import structlog

from runecraft import _logging, errors
from runecraft.agents._logship import BATCH_BYTES, LogShipper, batch_end
from runecraft.agents._unitlog import UnitLog
from runecraft.controller.services._names import check_model_name
from runecraft.schemas import bus
from runecraft.schemas.logs import EntityFilter, parse_entity, parse_line, records, severity


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("unit-my-app-10", EntityFilter(units=frozenset({"my-app/10"}))),
        ("my-app/10", EntityFilter(units=frozenset({"my-app/10"}))),
        ("my-app", EntityFilter(applications=frozenset({"my-app"}))),
        ("machine-3", EntityFilter(machines=frozenset({3}))),
        ("3", EntityFilter(machines=frozenset({3}))),
        ("controller-0", EntityFilter(entities=frozenset({"controller-0"}))),
    ],
)
def test_entities_as_juju_names_them(value: str, expected: EntityFilter) -> None:
    assert parse_entity(value) == expected


@pytest.mark.parametrize("value", ["", "My-App", "app/x", "app-0", "unit-app-", "a b"])
def test_bad_entities_are_refused(value: str) -> None:
    with pytest.raises(errors.InvalidSpecError, match="invalid entity"):
        parse_entity(value)


def test_levels_rank_and_warn_is_warning() -> None:
    assert severity("trace") < severity("DEBUG") < severity("warn") == severity("WARNING")
    with pytest.raises(errors.InvalidSpecError, match='invalid log level "LOUD"'):
        severity("LOUD")


def test_unit_log_lines_parse_and_anything_else_is_kept_whole() -> None:
    line = parse_line("2026-01-02 03:04:05 WARNING unit.a/0.juju-log disk: low", "unit.a/0", "x")
    assert (line.at, line.level, line.module, line.message) == (
        "2026-01-02 03:04:05",
        "WARNING",
        "unit.a/0.juju-log",
        "disk: low",
    )
    other = parse_line("  Traceback (most recent call last):", "unit.a/0", "2026-01-02 00:00:00")
    assert (other.level, other.module, other.message) == (
        "INFO",
        "unit.a/0",
        "  Traceback (most recent call last):",
    )


TRACEBACK = (
    "Uncaught exception while in charm code:\n"
    "Traceback (most recent call last):\n"
    '  File "./src/charm.py", line 9, in <module>\n'
    "2026-01-02 03:04:05 INFO unit.a/0.juju-log looks like a record\n"
    "\n"
    "RuntimeError: boom"
)


def test_a_multi_line_message_is_one_record_at_its_level(tmp_path: Path) -> None:
    log = UnitLog(tmp_path / "unit.log", "a/0")
    log.write("INFO", "juju-log", "before")
    log.write("ERROR", "juju-log", TRACEBACK + "\n")
    log.write("WARNING", "juju-log", "after")
    log.close()
    lines = (tmp_path / "unit.log").read_text().splitlines()
    # Readable as Juju's: the first line has the header, the rest are indented by one.
    assert len(lines) == 8
    assert lines[1].endswith(" ERROR unit.a/0.juju-log Uncaught exception while in charm code:")
    assert lines[2:7] == [f" {line}" for line in TRACEBACK.split("\n")[1:]]
    parsed = [parse_line(record, "unit.a/0", "x") for record in records(lines)]
    assert [(p.level, p.module, p.message) for p in parsed] == [
        ("INFO", "unit.a/0.juju-log", "before"),
        ("ERROR", "unit.a/0.juju-log", TRACEBACK),
        ("WARNING", "unit.a/0.juju-log", "after"),
    ]


def test_continuation_lines_without_their_record_stand_alone() -> None:
    assert records([" orphan", "2026-01-02 03:04:05 INFO m x", " more", "plain"]) == [
        " orphan",
        "2026-01-02 03:04:05 INFO m x\nmore",
        "plain",
    ]
    carriage = parse_line("2026-01-02 03:04:05 ERROR m a\rb\nc", "f", "x")
    assert (carriage.level, carriage.message) == ("ERROR", "a\rb\nc")


def test_shipper_sends_whole_records_only(tmp_path: Path) -> None:
    log = tmp_path / "unit.log"
    head = b"2026-01-02 03:04:05 ERROR unit.a/0.juju-log "
    log.write_bytes(b"one\n" + head + b"first\n second\n thi")  # the record is being written
    sent = _Sent()
    shipper = LogShipper(lambda: {"a/0": log}, sent.publish, resend_after=3600)
    shipper.ack("a/0", 0)
    shipper.ship()
    assert sent[-1].lines == ("one",)
    shipper.ack("a/0", sent[-1].end)
    with log.open("ab") as file:
        file.write(b"rd\n")
    shipper.ship()
    assert sent[-1].lines == (head.decode() + "first", " second", " third")


def test_a_batch_ends_before_a_record_its_last_byte_does_not_finish() -> None:
    record = b"2026-01-02 03:04:05 ERROR m x\n"
    filler = b"f" * (BATCH_BYTES - len(record) - 1) + b"\n"
    # The batch is full, and the line after its end continues the record inside it.
    assert batch_end(filler + record + b" ") == len(filler)
    assert batch_end(filler + record + b"2") == len(filler) + len(record)
    assert batch_end(filler + record) == len(filler) + len(record)  # the end of the file
    # One record longer than a batch goes in parts, cut at a line's end.
    long = record + b" x\n" * (BATCH_BYTES // 3 + 1)
    cut = batch_end(long[: BATCH_BYTES + 1])
    assert 0 < cut <= BATCH_BYTES and long[cut - 1 : cut + 1] == b"\n "
    assert batch_end(b"no newline yet") == 0


class _Sent(list[bus.LogBatch]):
    def publish(self, payload: bytes) -> None:
        body = bus.Envelope.model_validate_json(payload).body
        self.append(bus.LogBatch.model_validate(body))


def test_shipper_asks_first_then_sends_whole_lines_from_the_acked_offset(
    tmp_path: Path,
) -> None:
    log = tmp_path / "unit.log"
    log.write_bytes(b"one\ntwo\nthr")
    sent = _Sent()
    shipper = LogShipper(lambda: {"a/0": log}, sent.publish, resend_after=3600)

    shipper.ship()
    assert sent == [bus.LogBatch(source="a/0", offset=0, end=0)]  # where does the copy end?
    shipper.ship()
    assert len(sent) == 1  # in flight: nothing more until acknowledged

    shipper.ack("a/0", 4)  # the controller already holds "one\n"
    shipper.ship()
    assert sent[-1] == bus.LogBatch(source="a/0", offset=4, end=8, lines=("two",))

    shipper.reconnected()  # the batch may be lost: the same one goes again
    shipper.ship()
    assert sent[-1] == sent[-2]

    shipper.ack("a/0", 8)
    with log.open("ab") as file:
        file.write(b"ee\n")
    shipper.ship()
    assert sent[-1] == bus.LogBatch(source="a/0", offset=8, end=14, lines=("three",))


def test_shipper_ships_a_recreated_or_truncated_log_as_its_next_generation(
    tmp_path: Path,
) -> None:
    log = tmp_path / "unit.log"
    log.write_bytes(b"one\ntwo\n")
    sent = _Sent()
    shipper = LogShipper(lambda: {"a/0": log}, sent.publish, resend_after=3600)
    shipper.ack("a/0", 0)
    shipper.ship()
    assert sent[-1] == bus.LogBatch(source="a/0", offset=0, end=8, lines=("one", "two"))
    shipper.ack("a/0", 8)

    # Rotated (another file in its place), already longer than the copy: from its start.
    log.rename(tmp_path / "unit.log.1")
    log.write_bytes(b"three\nfour\n")
    shipper.ship()
    first = bus.LogBatch(source="a/0", generation=1, offset=0, end=11, lines=("three", "four"))
    assert sent[-1] == first
    # A stale acknowledgement of the old generation: the new one is sent again, not mixed.
    shipper.ack("a/0", 8)
    shipper.ship()
    assert sent[-1] == first
    shipper.ack("a/0", 11, generation=1)

    # Truncated in place (shorter than the copy): the generation after.
    log.write_bytes(b"five\n")
    shipper.ship()
    assert sent[-1] == bus.LogBatch(source="a/0", generation=2, offset=0, end=5, lines=("five",))

    shipper.ack("a/0", 5, generation=2)
    with log.open("ab") as file:
        file.write(b"six\n")
    shipper.ship()
    assert sent[-1] == bus.LogBatch(source="a/0", generation=2, offset=5, end=9, lines=("six",))
    # Refused: the controller holds less than where the batch starts; ship from there.
    shipper.ack("a/0", 0, generation=2)
    shipper.ship()
    assert sent[-1] == bus.LogBatch(
        source="a/0", generation=2, offset=0, end=9, lines=("five", "six")
    )
    shipper.ack("a/0", 9, generation=2)
    shipper.ship()
    assert len(sent) == 6


def test_shipper_cuts_an_overlong_line_rather_than_stalling(tmp_path: Path) -> None:
    log = tmp_path / "unit.log"
    log.write_bytes(b"x" * (BATCH_BYTES + 10))
    sent = _Sent()
    shipper = LogShipper(lambda: {"a/0": log}, sent.publish)
    shipper.ack("a/0", 0)
    shipper.ship()
    assert sent[-1].end == BATCH_BYTES


async def test_flush_waits_until_the_controller_holds_the_log_as_written_now(
    tmp_path: Path,
) -> None:
    log = tmp_path / "unit.log"
    log.write_bytes(b"stop\nremove\n")
    held: dict[str, int] = {}
    shipper: LogShipper

    def controller(payload: bytes) -> None:  # stores each batch, then acknowledges it
        batch = bus.LogBatch.model_validate(bus.Envelope.model_validate_json(payload).body)
        held[batch.source] = max(held.get(batch.source, 0), batch.end)
        asyncio.get_running_loop().call_soon(shipper.ack, batch.source, held[batch.source])

    shipper = LogShipper(lambda: {"a/0": log}, controller, poll=3600)
    async with asyncio.TaskGroup() as tg:
        shipping = tg.create_task(shipper.run())
        assert await shipper.flush("a/0")
        assert held == {"a/0": len(b"stop\nremove\n")}
        assert not await shipper.flush("b/0")  # not a log this shipper ships
        shipping.cancel()


async def test_flush_gives_up_when_nothing_is_acknowledged(tmp_path: Path) -> None:
    log = tmp_path / "unit.log"
    log.write_bytes(b"remove\n")
    sent = _Sent()
    shipper = LogShipper(lambda: {"a/0": log, "machine-0": tmp_path / "none.log"}, sent.publish)
    shipper.ship()
    assert not await shipper.flush_all(timeout=0.05)  # the controller never answers
    assert [batch.source for batch in sent] == ["a/0", "machine-0"]  # asked, never answered


def _logged(sink: _logging.Sink, **kw: object) -> None:
    log = structlog.wrap_logger(structlog.ReturnLogger(), processors=_logging.processors())
    token = _logging.SINK.set(sink)
    try:
        log.warning("machine started", **kw)
    finally:
        _logging.SINK.reset(token)


def test_log_lines_reach_the_sink_of_their_context_with_module_and_model() -> None:
    got: list[_logging.LogLine] = []
    _logged(got.append, model="m1", units=2, note="two words")
    (line,) = got
    assert (line.level, line.model) == ("WARNING", "m1")
    assert line.message == "machine started model=m1 units=2 note='two words'"
    assert line.module == "test_logs"  # the caller, not structlog
    assert len(line.at) == len("2026-01-02 03:04:05") and line.at[10] == " "
    log = structlog.wrap_logger(structlog.ReturnLogger(), processors=_logging.processors())
    log.info("no sink here")  # outside the context: goes nowhere else
    assert len(got) == 1


def test_json_lines_on_request_from_structlog_and_stdlib_logging() -> None:
    log = structlog.wrap_logger(structlog.ReturnLogger(), processors=_logging.processors("json"))
    try:
        raise RuntimeError("first\nsecond")
    except RuntimeError:
        line = log.error("hook failed", unit="a/0", exc_info=True)
    document = json.loads(line)
    assert list(document)[:3] == ["timestamp", "level", "event"]
    assert (document["level"], document["event"], document["unit"]) == (
        "error",
        "hook failed",
        "a/0",
    )
    assert "RuntimeError: first\nsecond" in document["exception"]
    assert "\n" not in line  # one line, whatever the message holds

    handler = _logging._stdlib_handler(_logging.SafeStream(1), "json")
    record = logging.LogRecord("uvicorn.error", logging.WARNING, "x.py", 1, "port %d", (80,), None)
    stdlib = json.loads(handler.format(record))
    assert list(stdlib)[:3] == ["timestamp", "level", "event"]
    assert (stdlib["level"], stdlib["event"], stdlib["logger"]) == (
        "warning",
        "port 80",
        "uvicorn.error",
    )

    text = structlog.wrap_logger(structlog.ReturnLogger(), processors=_logging.processors())
    assert text.info("started", port=80).startswith("timestamp=")
    with pytest.raises(ValueError, match="unknown log format 'yaml'"):
        _logging.processors("yaml")


def test_a_failing_sink_never_fails_the_caller() -> None:
    def broken(line: _logging.LogLine) -> None:
        raise OSError("disk full")

    _logged(broken)


def test_module_names_are_dotted_from_the_package_root() -> None:
    assert _logging.module_of("/x/site-packages/runecraft/agents/machine.py") == (
        "runecraft.agents.machine"
    )
    assert _logging.module_of("/x/tool.py") == "tool"


def test_file_sink_writes_lines_the_shipper_and_parser_read_back(tmp_path: Path) -> None:
    sink = _logging.FileSink(tmp_path / "sub" / "machine.log")
    sink(_logging.LogLine("2026-01-02 03:04:05", "ERROR", "runecraft.agents.machine", "boom"))
    sink.close()
    (text,) = (tmp_path / "sub" / "machine.log").read_text().splitlines()
    parsed = parse_line(text, "machine-0", "x")
    assert (parsed.at, parsed.level, parsed.module, parsed.message) == (
        "2026-01-02 03:04:05",
        "ERROR",
        "runecraft.agents.machine",
        "boom",
    )


def test_the_controller_model_name_is_reserved() -> None:
    with pytest.raises(errors.InvalidSpecError, match='model name "controller" is reserved'):
        check_model_name("controller")
    assert check_model_name("controllers") == "controllers"
