"""The audit log of mutating API calls, as `GET /v1/audit` returns it and `rune audit-log`
prints it. An entry says who did what and how it ended, never with what: request bodies
(secret content, passwords) are not kept."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["ANONYMOUS", "MAX_AUDIT_LIMIT", "AuditEntry", "AuditPage"]

ANONYMOUS = "anonymous"
"""The principal of a call that authenticated as no one (refused before or at the check)."""

MAX_AUDIT_LIMIT = 10_000
"""The most entries one read returns."""


class AuditEntry(BaseModel):
    id: int
    at: float
    """When the call was answered (Unix seconds)."""
    principal: str
    """Who called: `user:<name>`, `agent:<tag>`, or `anonymous`."""
    method: str
    route: str
    """The route template (`/v1/models/{model}/applications`), or the path for none."""
    model: str | None = None
    """The model named in the route, if any."""
    status: int
    """The HTTP status answered."""
    error: str = ""
    """The error code (`not-found`, `permission-denied`, …) of a refused call."""


class AuditPage(BaseModel):
    entries: list[AuditEntry] = Field(default_factory=list)
    """Newest last."""
