"""structlog set-up shared by the controller and agent processes: key-value lines, or JSON
lines (one object a line, `timestamp`, `level` and `event` keys first) for log shippers.

Code that also runs in a machine agent logs through `get_logger` (structlog's calling
convention): under `configure_plain` it writes the same key-value lines without structlog,
which a machine agent then never imports (3 MB less in every agent); otherwise each call
goes to structlog, configured by `configure`.

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
import datetime
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TextIO, cast

if TYPE_CHECKING:
    import structlog

__all__ = [
    "LOG_FORMATS",
    "SINK",
    "FileSink",
    "LineFile",
    "LogLine",
    "Logger",
    "SafeStream",
    "Sink",
    "configure",
    "configure_plain",
    "get_logger",
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
    import structlog  # noqa: PLC0415 (a machine agent logs without it)

    return [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]


def _renderer(log_format: str) -> structlog.typing.Processor:
    import structlog  # noqa: PLC0415

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
    import structlog  # noqa: PLC0415

    return [
        structlog.contextvars.merge_contextvars,
        *_shared(),
        structlog.processors.CallsiteParameterAdder(
            {structlog.processors.CallsiteParameter.PATHNAME},
            additional_ignores=[__name__],  # the caller of a `Logger`, not the `Logger`
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
        import structlog  # noqa: PLC0415

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


def _configure_stdlib(level: str, log_format: str) -> tuple[int, SafeStream]:
    """Route stdlib logging to the process's stream; its numeric level and the stream."""
    numeric = getattr(logging, level.upper(), logging.INFO)
    stream = SafeStream(sys.stderr.fileno())
    logging.basicConfig(handlers=[_stdlib_handler(stream, log_format)], level=numeric)
    for noisy in ("amqtt", "transitions", "uvicorn.access", "mqtt", "aiosqlite", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return numeric, stream


def configure(level: str = "INFO", process: str = "runecraft", log_format: str = "text") -> None:
    """Log lines on stderr (the process's log file), stdlib logging routed too; `log_format`
    is one of `LOG_FORMATS` (`json`: one JSON object a line, for log shippers)."""
    import structlog  # noqa: PLC0415

    chain = processors(log_format)
    numeric, stream = _configure_stdlib(level, log_format)
    Logger.plain = None
    structlog.configure(
        processors=chain,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=cast("TextIO", stream)),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(process=process)


def configure_plain(level: str = "INFO", process: str = "runecraft") -> None:
    """`configure(level, process)` without structlog: `get_logger` loggers write the same
    key-value lines (and feed `SINK` alike) themselves. For a machine agent, which logs
    only through them."""
    numeric, stream = _configure_stdlib(level, "text")
    Logger.plain = _PlainLines(numeric, stream.write, {"process": process})


_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "exception": 40, "critical": 50}


@dataclass(frozen=True)
class _PlainLines:
    """What `configure_plain` set: the least level written, where lines go, and the
    process-wide context (structlog's context variables in `configure`)."""

    level: int
    write: Callable[[str], object]
    context: dict[str, Any]

    def log(self, method: str, event: str, values: dict[str, Any], pathname: str) -> None:
        """The line structlog's `processors("text")` chain renders for this call."""
        if _LEVELS[method] < self.level:
            return
        event_dict: dict[str, Any] = {**values, "event": event}
        for key, value in self.context.items():
            event_dict.setdefault(key, value)
        event_dict["level"] = "error" if method == "exception" else method
        now = datetime.datetime.now(tz=datetime.UTC)
        event_dict["timestamp"] = now.isoformat().replace("+00:00", "Z")
        exc_info = _exc_info(event_dict.pop("exc_info", None))
        if exc_info is not None:
            text = "".join(traceback.format_exception(*exc_info))
            event_dict["exception"] = text[:-1] if text.endswith("\n") else text
        event_dict["pathname"] = pathname
        _tee(None, method, event_dict)
        first = [(key, event_dict.pop(key, None)) for key in ("timestamp", "level", "event")]
        items = [*first, *event_dict.items()]
        self.write(" ".join(f"{key}={value!r}" for key, value in items) + "\n")


def _exc_info(value: Any) -> tuple[type[BaseException], BaseException, Any] | None:
    """The exception `exc_info=` names, as structlog's `format_exc_info` reads it."""
    if isinstance(value, BaseException):
        return (type(value), value, value.__traceback__)
    if isinstance(value, tuple) and len(value) == 3 and isinstance(value[1], BaseException):
        return cast("tuple[type[BaseException], BaseException, Any]", value)
    if value:
        current = sys.exc_info()
        return None if current[1] is None else current
    return None


class Logger:
    """structlog's calling convention (`info(event, **values)`, `bind`, `exception`) for
    code that also runs in a machine agent: lines of `configure_plain` when it is in force,
    else structlog's (configured by `configure`)."""

    __slots__ = ("_context", "_name", "_structlog")

    plain: ClassVar[_PlainLines | None] = None
    """Set by `configure_plain` (None: structlog's lines)."""

    def __init__(self, name: str, context: dict[str, Any] | None = None) -> None:
        self._name = name
        self._context = context or {}
        self._structlog: Any = None

    def bind(self, **values: Any) -> Logger:
        """A logger that adds `values` to every line."""
        return Logger(self._name, {**self._context, **values})

    def debug(self, event: str, *args: Any, **values: Any) -> None:
        self._log("debug", event, args, values)

    def info(self, event: str, *args: Any, **values: Any) -> None:
        self._log("info", event, args, values)

    def warning(self, event: str, *args: Any, **values: Any) -> None:
        self._log("warning", event, args, values)

    def error(self, event: str, *args: Any, **values: Any) -> None:
        self._log("error", event, args, values)

    def critical(self, event: str, *args: Any, **values: Any) -> None:
        self._log("critical", event, args, values)

    def exception(self, event: str, *args: Any, **values: Any) -> None:
        """`error` with the exception being handled."""
        values.setdefault("exc_info", True)
        self._log("exception", event, args, values)

    def _log(self, method: str, event: str, args: tuple[Any, ...], values: dict[str, Any]) -> None:
        plain = Logger.plain
        if plain is not None:
            caller = sys._getframe(2).f_code.co_filename
            plain.log(method, event % args if args else event, {**self._context, **values}, caller)
            return
        if self._structlog is None:
            import structlog  # noqa: PLC0415

            self._structlog = structlog.get_logger(self._name)
        logger = self._structlog.bind(**self._context) if self._context else self._structlog
        getattr(logger, method)(event, *args, **values)


def get_logger(name: str) -> Logger:
    """The logger of module `name` (as `structlog.get_logger(__name__)`)."""
    return Logger(name)
