"""The one error tree of Runecraft.

    RunecraftError
    ├── InvalidSpecError      bad input: a bundle, charm metadata, config value, request, message
    │   └── UsageError        a command line that cannot be parsed (exit 2)
    ├── NotFoundError         an application, unit, model, charm ... that does not exist
    ├── ConflictError         the request contradicts what is stored (already exists, ...)
    ├── PermissionDeniedError the caller may not do this
    ├── TemporaryError        retry later (carries a delay in seconds)
    └── PermanentError        will not succeed by retrying

Edges (providers, clients, the API) map library exceptions to these, chaining `from exc`.
The API maps each class to an HTTP status and back, so a CLI user sees the same message the
controller raised.
"""

from __future__ import annotations

__all__ = [
    "ConflictError",
    "InvalidSpecError",
    "NotFoundError",
    "PermanentError",
    "PermissionDeniedError",
    "RunecraftError",
    "TemporaryError",
    "UsageError",
]


class RunecraftError(Exception):
    """Root of every error Runecraft raises on purpose."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidSpecError(RunecraftError):
    """Input is malformed or refers to something impossible; nothing was changed."""

    code = "invalid"


class UsageError(InvalidSpecError):
    """A command line or tool invocation that cannot be parsed."""

    code = "usage"


class NotFoundError(RunecraftError):
    """The named entity does not exist."""

    code = "not-found"


class ConflictError(RunecraftError):
    """The request contradicts the stored state (for example: it already exists)."""

    code = "conflict"


class PermissionDeniedError(RunecraftError):
    """The caller is not allowed to do this."""

    code = "permission-denied"


class TemporaryError(RunecraftError):
    """A failure that may go away; retry after `delay` seconds."""

    code = "temporary"

    def __init__(self, message: str, delay: float = 5.0) -> None:
        super().__init__(message)
        self.delay = delay


class PermanentError(RunecraftError):
    """A failure that retrying will not fix."""

    code = "permanent"


BY_CODE: dict[str, type[RunecraftError]] = {
    cls.code: cls
    for cls in (
        RunecraftError,
        InvalidSpecError,
        UsageError,
        NotFoundError,
        ConflictError,
        PermissionDeniedError,
        TemporaryError,
        PermanentError,
    )
}
