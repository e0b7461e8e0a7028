"""A machine agent logs without structlog (`_logging.configure_plain`): its lines must be the
lines structlog's chain (`_logging.processors("text")`) writes for the same calls, on stderr
and in the shipped log (`SINK`), so readers of either see no difference."""

from __future__ import annotations

import io
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from runecraft import _logging

Calls = Callable[[_logging.Logger], None]

_STAMP = re.compile(r"timestamp='\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z'")


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    yield
    _logging.Logger.plain = None
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def _lines(calls: Calls, *, plain: bool) -> tuple[list[str], list[_logging.LogLine]]:
    """What `calls` write at level INFO (stderr lines, stamps masked; sink lines)."""
    out = io.StringIO()
    shipped: list[_logging.LogLine] = []
    if plain:
        _logging.Logger.plain = _logging._PlainLines(logging.INFO, out.write, {"process": "p"})
    else:
        _logging.Logger.plain = None
        structlog.configure(
            processors=_logging.processors("text"),
            wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
            logger_factory=structlog.PrintLoggerFactory(file=out),
        )
        structlog.contextvars.bind_contextvars(process="p")
    token = _logging.SINK.set(shipped.append)
    try:
        calls(_logging.get_logger("runecraft.agents.machine"))
    finally:
        _logging.SINK.reset(token)
    lines = [_STAMP.sub("timestamp=T", line) for line in out.getvalue().splitlines()]
    assert all("timestamp=T" in line for line in lines if line.startswith("timestamp"))
    return lines, [
        _logging.LogLine("T", line.level, line.module, line.message, line.model) for line in shipped
    ]


def _assert_same(calls: Calls) -> None:
    plain = _lines(calls, plain=True)
    assert plain[0], "the calls wrote nothing to compare"
    assert plain == _lines(calls, plain=False)


def _values(log: _logging.Logger) -> None:
    log.info("bus connected", host="10.0.0.1", port=1883)
    log.info("odd values", text="two words", quote="it's", empty="", none=None, flag=True)
    log.warning("nested", data={"a": [1, 2.5]}, unit="app/0", model="m")


def _bound(log: _logging.Logger) -> None:
    unit = log.bind(unit="app/0")
    unit.bind(op="op-1", hook="install").info("hook ran", seconds=0.25)
    unit.error("hook failed", unit="app/1")  # a call's value replaces a bound one


def _levels(log: _logging.Logger) -> None:
    log.debug("not written at INFO", x=1)
    log.info("line\nbreak %s of %d", "one", 2)
    log.critical("stop")


def _exceptions(log: _logging.Logger) -> None:
    try:
        raise ValueError("bad value")
    except ValueError as exc:
        log.exception("it failed", unit="app/0")
        log.warning("given", exc_info=exc)
    log.error("nothing to show", exc_info=True)


@pytest.mark.parametrize("calls", [_values, _bound, _levels, _exceptions])
def test_plain_lines_are_structlogs_lines(calls: Calls) -> None:
    _assert_same(calls)


_KEYS = st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True).filter(
    lambda key: key not in {"event", "level", "timestamp", "pathname", "exc_info", "process"}
)
_VALUES = st.one_of(
    st.text(max_size=12),
    st.integers(),
    st.floats(),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
)


@settings(max_examples=60, deadline=None)
@given(event=st.text(max_size=20), values=st.dictionaries(_KEYS, _VALUES, max_size=4))
def test_any_values_render_alike(event: str, values: dict[str, Any]) -> None:
    if "%" in event:
        event = event.replace("%", "%%")  # no positional arguments: `%` is literal
    _assert_same(lambda log: log.info(event, **values))


def test_configure_plain_routes_loggers_past_structlog() -> None:
    """After `configure_plain` a logger never calls structlog (it is not configured here,
    so a structlog line would lack the process key)."""
    read, write = os.pipe()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(sys.stderr, "fileno", lambda: write)
            _logging.configure_plain("WARNING", process="machine-agent")
        log = _logging.get_logger(__name__)
        log.info("below the level")
        log.warning("kept", n=1)
    finally:
        os.close(write)
        root.handlers[:] = handlers
        root.setLevel(level)
    with open(read, encoding="utf-8") as pipe:
        written = pipe.read()
    assert "below the level" not in written
    assert re.fullmatch(
        r"timestamp='[^']+' level='warning' event='kept' n=1 process='machine-agent'\n", written
    )
