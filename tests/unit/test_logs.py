"""Log line parsing, entity filters, and the agent's log shipper protocol."""

from __future__ import annotations

from pathlib import Path

import pytest

from runecraft import errors
from runecraft.agents._logship import BATCH_BYTES, LogShipper
from runecraft.schemas import bus
from runecraft.schemas.logs import EntityFilter, parse_entity, parse_line, severity


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("unit-my-app-10", EntityFilter(units=frozenset({"my-app/10"}))),
        ("my-app/10", EntityFilter(units=frozenset({"my-app/10"}))),
        ("my-app", EntityFilter(applications=frozenset({"my-app"}))),
        ("machine-3", EntityFilter(machines=frozenset({3}))),
        ("3", EntityFilter(machines=frozenset({3}))),
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
    line = parse_line("2026-01-02 03:04:05 WARNING unit.a/0.juju-log disk: low", "a/0", "x")
    assert (line.at, line.level, line.module, line.message) == (
        "2026-01-02 03:04:05",
        "WARNING",
        "unit.a/0.juju-log",
        "disk: low",
    )
    other = parse_line("  Traceback (most recent call last):", "a/0", "2026-01-02 00:00:00")
    assert (other.level, other.module, other.message) == (
        "INFO",
        "unit.a/0",
        "  Traceback (most recent call last):",
    )


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
    assert sent == [bus.LogBatch(unit="a/0", offset=0, end=0)]  # where does the copy end?
    shipper.ship()
    assert len(sent) == 1  # in flight: nothing more until acknowledged

    shipper.ack("a/0", 4)  # the controller already holds "one\n"
    shipper.ship()
    assert sent[-1] == bus.LogBatch(unit="a/0", offset=4, end=8, lines=("two",))

    shipper.reconnected()  # the batch may be lost: the same one goes again
    shipper.ship()
    assert sent[-1] == sent[-2]

    shipper.ack("a/0", 8)
    with log.open("ab") as file:
        file.write(b"ee\n")
    shipper.ship()
    assert sent[-1] == bus.LogBatch(unit="a/0", offset=8, end=14, lines=("three",))


def test_shipper_cuts_an_overlong_line_rather_than_stalling(tmp_path: Path) -> None:
    log = tmp_path / "unit.log"
    log.write_bytes(b"x" * (BATCH_BYTES + 10))
    sent = _Sent()
    shipper = LogShipper(lambda: {"a/0": log}, sent.publish)
    shipper.ack("a/0", 0)
    shipper.ship()
    assert sent[-1].end == BATCH_BYTES
