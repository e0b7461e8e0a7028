"""Fault injection: the emulated API answers chosen requests with an error Status."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    410: "Expired",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
}


@dataclass(eq=False)
class Fault:
    """One rule: requests with this method (any when None) whose path matches `path` (a
    regular expression searched in the URL path) are answered `code`, `times` more times (or
    until cleared when None). `hits` counts the requests it answered."""

    code: int
    method: str | None
    path: re.Pattern[str]
    times: int | None
    reason: str
    message: str
    hits: int = 0

    def status(self) -> dict[str, Any]:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "reason": self.reason,
            "message": self.message,
            "code": self.code,
            "details": {},
        }


class Faults:
    """The cluster's fault rules; safe to change from any thread while the API serves."""

    def __init__(self) -> None:
        self._rules: list[Fault] = []
        self._lock = threading.Lock()

    def add(
        self,
        code: int,
        *,
        method: str | None = None,
        path: str = "",
        times: int | None = None,
        reason: str | None = None,
        message: str | None = None,
    ) -> Fault:
        """Answer `code` to matching requests; the newest rule wins where several match."""
        fault = Fault(
            code=code,
            method=method.upper() if method else None,
            path=re.compile(path),
            times=times,
            reason=reason or _REASONS.get(code, "InternalError"),
            message=message or f"injected fault {code} for {method or 'any'} {path or '/'}",
        )
        with self._lock:
            self._rules.append(fault)
        return fault

    def clear(self, fault: Fault | None = None) -> None:
        """Lift one rule, or all of them."""
        with self._lock:
            self._rules = [rule for rule in self._rules if fault is not None and rule is not fault]

    @property
    def active(self) -> list[Fault]:
        with self._lock:
            return list(self._rules)

    def take(self, method: str, path: str) -> Fault | None:
        """The rule that answers this request, counting it (and retiring a rule used up)."""
        with self._lock:
            for rule in reversed(self._rules):
                if rule.method not in (None, method.upper()) or not rule.path.search(path):
                    continue
                rule.hits += 1
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self._rules.remove(rule)
                return rule
        return None
