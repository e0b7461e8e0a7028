"""structlog set-up shared by the controller and agent processes: key-value lines, or JSON
lines (one object a line, `timestamp`, `level` and `event` keys first) for log shippers.

Besides stderr, each line can go to a sink (`SINK`, a context variable so that two
controllers in one process do not mix their lines): the controller stores its lines for
`rune debug-log`, a machine agent writes them to the log file it ships.

Logging never fails its caller, a full disk included: the process's own stream
(`SafeStream`, stderr redirected to a log file) drops what it cannot write and says how
many lines it lost once it can write again; a shipped log file (`LineFile`) keeps what it
cannot write in memory, bounded, and writes it when there is room, whole lines only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO, cast

import structlog

__all__ = [
    "LOG_FORMATS",
    "SINK",
    "FileSink",
    "LineFile",
    "LogLine",
    "SafeStream",
    "Sink",
    "configure",
    "lost_lines_note",
    "module_of",
    "processors",
]

LOG_FORMATS = ("text", "json")
"""How a process writes its log: key-value lines (`text`) or JSON lines (`json`)."""

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


BACKLOG_BYTES = 1024 * 1024
"""Most bytes of lines a `LineFile` keeps in memory while its disk is full."""


class LineFile:
    """Appends whole lines to a file (a log that is shipped), surviving a full disk.

    A line the file cannot take now (no space, quota, read-only) waits in memory, up to
    `backlog` bytes (the oldest go first beyond, counted), and is written before the next
    line once there is room; `note(n)` then stands where `n` lines were lost. A write the
    disk cut short is cut back, so a reader up to the last newline never sees a torn line.
    Thread-safe; never raises `OSError`.
    """

    def __init__(
        self, path: Path, note: Callable[[int], str], *, backlog: int = BACKLOG_BYTES
    ) -> None:
        self.path = path
        self._note = note
        self._backlog = backlog
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self.lost = 0
        """Lines dropped since the last note was written."""

    @property
    def pending(self) -> int:
        """Lines waiting in memory for room on the disk."""
        return len(self._pending)

    def write(self, line: str) -> bool:
        """Append `line` (a newline is added); whether everything waiting is on disk now."""
        data = (line.rstrip("\n") + "\n").encode("utf-8", errors="replace")
        with self._lock:
            self._pending.append(data)
            self._pending_bytes += len(data)
            if self._drain():
                return True
            while self._pending_bytes > self._backlog and len(self._pending) > 1:
                self._pending_bytes -= len(self._pending.pop(0))
                self.lost += 1
            return False

    def flush(self) -> bool:
        """Write what waits in memory, if there is room now."""
        with self._lock:
            return self._drain()

    def _drain(self) -> bool:
        if not self._pending:
            return True
        try:
            if self._fd is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            note = self._note(self.lost).rstrip("\n").encode() + b"\n" if self.lost else b""
            chunk = note + b"".join(self._pending)
            end = os.fstat(self._fd).st_size
            written = os.write(self._fd, chunk)
            if written < len(chunk):
                os.ftruncate(self._fd, end)  # a torn line would ship as a whole one
                return False
        except OSError:
            return False
        self._pending.clear()
        self._pending_bytes = 0
        self.lost = 0
        return True

    def close(self) -> None:
        """Write what can be written and close; a later `write` opens the file again."""
        with self._lock:
            self._drain()
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._fd)
                self._fd = None


def lost_lines_note(count: int, module: str = __name__) -> str:
    """The line that stands where a full disk made a log lose `count` lines, said alike in
    every log (the agents' own and the unit logs); `module` is who says it."""
    return LogLine(
        at=time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        level="WARNING",
        module=module,
        message=f"{count} log line(s) lost: the disk was full",
    ).render()


class FileSink:
    """Appends lines to a log file (a machine agent's own log, shipped like a unit log)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = LineFile(path, lost_lines_note)

    def __call__(self, line: LogLine) -> None:
        self._file.write(line.render())

    def flush(self) -> None:
        """Write lines a full disk held back, if there is room now."""
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class SafeStream:
    """A process's log stream (stderr, redirected to its log file) that never raises: a
    line the disk cannot take is dropped and counted, and the next line that can be written
    follows a note of how many were lost (`print` and stdlib logging write through it).
    It writes to the descriptor itself: a buffer would keep a failed line and write it,
    torn, after later ones."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()
        self._torn = False
        self.lost = 0
        """Lines dropped since the last note."""

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            self._torn = True
            view = view[written:]
        self._torn = False

    def write(self, text: str) -> int:
        with self._lock:
            data = text.encode("utf-8", errors="replace")
            try:
                if self.lost and text.strip():
                    lead = b"\n" if self._torn else b""
                    self._write_all(lead + lost_lines_note(self.lost).encode() + b"\n")
                    self.lost = 0
                elif self._torn:
                    self._write_all(b"\n")
                self._write_all(data)
            except OSError:
                self.lost += max(text.count("\n"), 1)
        return len(text)

    def flush(self) -> None:
        """Nothing is buffered."""


def _shared() -> list[structlog.typing.Processor]:
    """Level, time and the traceback as text: for structlog's lines and stdlib logging's."""
    return [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]


def _renderer(log_format: str) -> structlog.typing.Processor:
    if log_format == "json":
        return structlog.processors.JSONRenderer(sort_keys=False)
    return structlog.processors.KeyValueRenderer(
        key_order=["timestamp", "level", "event"], sort_keys=False
    )


def _key_order(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """`timestamp`, `level`, `event` first, as in the key-value lines."""
    first = {
        key: event_dict.pop(key) for key in ("timestamp", "level", "event") if key in event_dict
    }
    return {**first, **event_dict}


def processors(log_format: str = "text") -> list[structlog.typing.Processor]:
    """The chain: context, level, time, call site (for the sink), sink, line (`log_format`:
    key-value or JSON)."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"unknown log format {log_format!r}: expected one of {LOG_FORMATS}")
    return [
        structlog.contextvars.merge_contextvars,
        *_shared(),
        structlog.processors.CallsiteParameterAdder(
            {structlog.processors.CallsiteParameter.PATHNAME}
        ),
        _tee,
        *([_key_order] if log_format == "json" else []),
        _renderer(log_format),
    ]


def _stdlib_handler(stream: SafeStream, log_format: str) -> logging.Handler:
    """Where stdlib logging (uvicorn, amqtt, ...) writes: `name message` lines, or the same
    JSON objects as structlog's (`logger` naming who logged)."""
    handler = logging.StreamHandler(cast("TextIO", stream))
    if log_format == "json":
        handler.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                foreign_pre_chain=[
                    structlog.contextvars.merge_contextvars,
                    structlog.stdlib.add_logger_name,
                    *_shared(),
                ],
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    _key_order,
                    _renderer(log_format),
                ],
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    return handler


def configure(level: str = "INFO", process: str = "runecraft", log_format: str = "text") -> None:
    """Log lines on stderr (the process's log file), stdlib logging routed too; `log_format`
    is one of `LOG_FORMATS` (`json`: one JSON object a line, for log shippers)."""
    numeric = getattr(logging, level.upper(), logging.INFO)
    stream = SafeStream(sys.stderr.fileno())
    chain = processors(log_format)
    logging.basicConfig(handlers=[_stdlib_handler(stream, log_format)], level=numeric)
    for noisy in ("amqtt", "transitions", "uvicorn.access", "mqtt", "aiosqlite", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=chain,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=cast("TextIO", stream)),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(process=process)
