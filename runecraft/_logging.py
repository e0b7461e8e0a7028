"""structlog set-up shared by the controller and agent processes: key-value lines.

Besides stderr, each line can go to a sink (`SINK`, a context variable so that two
controllers in one process do not mix their lines): the controller stores its lines for
`rune debug-log`, a machine agent writes them to the log file it ships.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Callable, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import structlog

__all__ = ["SINK", "FileSink", "LogLine", "Sink", "configure", "module_of", "processors"]

_OWN_KEYS = frozenset({"timestamp", "level", "event", "process", "pathname"})


@dataclass(frozen=True)
class LogLine:
    """One line as `debug-log` shows it; `model` is the model it is about, if any."""

    at: str
    level: str
    module: str
    message: str
    model: str | None = None

    def render(self) -> str:
        """The unit-log line format (`YYYY-MM-DD HH:MM:SS LEVEL module message`)."""
        return f"{self.at} {self.level} {self.module} {self.message}"


Sink = Callable[[LogLine], None]

SINK: ContextVar[Sink | None] = ContextVar("runecraft_log_sink", default=None)
"""Where this context's log lines go besides stderr (None: nowhere)."""


def module_of(pathname: str) -> str:
    """`…/runecraft/controller/_process.py` → `runecraft.controller._process`."""
    parts = Path(pathname).with_suffix("").parts
    if "runecraft" in parts:
        start = len(parts) - 1 - parts[::-1].index("runecraft")
        return ".".join(parts[start:])
    return parts[-1] if parts else "unknown"


def _value(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return repr(text) if not text or any(c.isspace() or c in "'\"" for c in text) else text


def _tee(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    pathname = event_dict.pop("pathname", "")
    sink = SINK.get()
    if sink is None:
        return event_dict
    level = str(event_dict.get("level", "info")).upper()
    extras = " ".join(f"{k}={_value(v)}" for k, v in event_dict.items() if k not in _OWN_KEYS)
    message = f"{event_dict.get('event', '')} {extras}".strip()
    model = event_dict.get("model")
    line = LogLine(
        at=str(event_dict.get("timestamp", ""))[:19].replace("T", " "),
        level="WARNING" if level == "WARN" else level,
        module=module_of(str(pathname)),
        message=message.replace("\n", "\\n"),
        model=model if isinstance(model, str) else None,
    )
    with contextlib.suppress(Exception):  # logging must never fail the caller
        sink(line)
    return event_dict


class FileSink:
    """Appends lines to a log file (a machine agent's own log, shipped like a unit log)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file: TextIO | None = None

    def __call__(self, line: LogLine) -> None:
        with self._lock:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("a", encoding="utf-8")
            self._file.write(line.render() + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def processors() -> list[structlog.typing.Processor]:
    """The chain: context, level, time, call site (for the sink), sink, key-value line."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        structlog.processors.CallsiteParameterAdder(
            {structlog.processors.CallsiteParameter.PATHNAME}
        ),
        _tee,
        structlog.processors.KeyValueRenderer(
            key_order=["timestamp", "level", "event"], sort_keys=False
        ),
    ]


def configure(level: str = "INFO", process: str = "runecraft") -> None:
    """Key-value log lines on stderr (the process's log file), stdlib logging routed too."""
    numeric = getattr(logging, level.upper(), logging.INFO)
    logging.basicConfig(stream=sys.stderr, level=numeric, format="%(name)s %(message)s")
    for noisy in ("amqtt", "transitions", "uvicorn.access", "mqtt", "aiosqlite", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=processors(),
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(process=process)
