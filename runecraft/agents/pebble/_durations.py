"""Go's duration syntax (`time.ParseDuration`, `Duration.String`): what layers and the API use."""

from __future__ import annotations

__all__ = ["format_duration", "parse_duration"]


def parse_duration(text: str) -> float:
    """Seconds in a Go duration (`500ms`, `1m30s`, `4.000s`, `-1.5h`); ValueError if malformed."""
    raise NotImplementedError


def format_duration(seconds: float) -> str:
    """Go's `Duration.String()` of `seconds`: `1m0s`, `500ms`, `168h0m0s`, `0s`."""
    raise NotImplementedError
