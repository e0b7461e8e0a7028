"""The one error tree of Runecraft.

    RunecraftError
    ├── InvalidSpecError      bad input: a bundle, charm metadata, config value, request, message
    │   └── UsageError        a command line that cannot be parsed (exit 2)
    ├── NotFoundError         an application, unit, model, charm ... that does not exist
    │   └── TaskTargetNotFoundError  a unit or action a task names (`run`/`exec` exit 0)
    ├── ConflictError         the request contradicts what is stored (already exists, ...)
    ├── PermissionDeniedError the caller may not do this
    ├── TemporaryError        retry later (carries a delay in seconds)
    │   ├── UnavailableError  a part the controller needs (its database) cannot serve now
    │   └── BrokerStoppedError  the broker the controller runs stopped (it is started again)
    └── PermanentError        will not succeed by retrying

Edges (providers, clients, the API) map library exceptions to these, chaining `from exc`.
The API maps each class to an HTTP status and back, so a CLI user sees the same message the
controller raised.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "BrokerStoppedError",
    "ConflictError",
    "InvalidSpecError",
    "NotFoundError",
    "PermanentError",
    "PermissionDeniedError",
    "RunecraftError",
    "TaskTargetNotFoundError",
    "TemporaryError",
    "UnavailableError",
    "UsageError",
]


class RunecraftError(Exception):
    """Root of every error Runecraft raises on purpose.

    A subclass names its wire code in its header (`class X(RunecraftError, code="x")`), which
    also registers it in `BY_CODE`, so the code and the class map cannot drift apart.
    """

    code: ClassVar[str] = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __init_subclass__(cls, code: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if code is not None:  # a subclass without a code of its own travels as its parent's
            cls.code = code
            BY_CODE[code] = cls


BY_CODE: dict[str, type[RunecraftError]] = {RunecraftError.code: RunecraftError}


class InvalidSpecError(RunecraftError, code="invalid"):
    """Input is malformed or refers to something impossible; nothing was changed."""


class UsageError(InvalidSpecError, code="usage"):
    """A command line or tool invocation that cannot be parsed."""


class NotFoundError(RunecraftError, code="not-found"):
    """The named entity does not exist."""


class TaskTargetNotFoundError(NotFoundError, code="task-target-not-found"):
    """A unit, application or action named for a task does not exist (the model does): as
    Juju 3.6, `run` and `exec` then print the error and exit 0 with nothing on stdout."""


class TemporaryError(RunecraftError, code="temporary"):
    """A failure that may go away; retry after `delay` seconds (None: the error does not
    say, the retrier's own back-off decides)."""

    def __init__(self, message: str, delay: float | None = 5.0) -> None:
        super().__init__(message)
        self.delay = delay


class UnavailableError(TemporaryError, code="unavailable"):
    """A resource the controller depends on is out of service (its database's disk is full
    or read-only, its database server unreachable): reads may still work, writes resume
    by themselves when the resource is back (HTTP 503)."""


class BrokerStoppedError(TemporaryError):
    """The broker the controller runs stopped serving; its supervisor starts it again after
    the supervisor's back-off (the error has no delay of its own)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, delay=None)


class ConflictError(RunecraftError, code="conflict"):
    """The request contradicts the stored state (for example: it already exists)."""


class PermissionDeniedError(RunecraftError, code="permission-denied"):
    """The caller is not allowed to do this."""


class PermanentError(RunecraftError, code="permanent"):
    """A failure that retrying will not fix."""
