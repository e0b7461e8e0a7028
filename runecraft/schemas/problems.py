"""Validation failures in our words: the field's path and what it must be.

pydantic's error *types* are its stable interface; the wording of its messages is not (it
changes between releases). Every boundary that reports a pydantic failure — charm metadata,
API requests, bundles, exec parameters — says it through `reason`, so a message reads the
same whichever pydantic is installed, and tests can pin it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

__all__ = ["location", "reason"]


def _ctx(error: ErrorDetails, key: str) -> Any:
    return (error.get("ctx") or {}).get(key)


_FIXED: Mapping[str, str] = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "set_type": "must be a list",
    "frozen_set_type": "must be a list",
}

_BOUNDED: Mapping[str, Callable[[ErrorDetails], str]] = {
    "greater_than_equal": lambda e: f"must be at least {_ctx(e, 'ge')}",
    "greater_than": lambda e: f"must be greater than {_ctx(e, 'gt')}",
    "less_than_equal": lambda e: f"must be at most {_ctx(e, 'le')}",
    "less_than": lambda e: f"must be less than {_ctx(e, 'lt')}",
    "string_too_short": lambda e: f"must be at least {_ctx(e, 'min_length')} characters long",
    "string_too_long": lambda e: f"must be at most {_ctx(e, 'max_length')} characters long",
    "too_short": lambda e: f"must have at least {_ctx(e, 'min_length')} items",
    "too_long": lambda e: f"must have at most {_ctx(e, 'max_length')} items",
    "string_pattern_mismatch": lambda e: f"must match {_ctx(e, 'pattern')}",
    "literal_error": lambda e: f"must be {_ctx(e, 'expected')}",
    "enum": lambda e: f"must be {_ctx(e, 'expected')}",
}


def reason(error: ErrorDetails) -> str:
    """What is wrong with the value, in our words (a check of ours speaks for itself)."""
    kind = error["type"]
    if kind in _FIXED:
        return _FIXED[kind]
    if kind in _BOUNDED:
        return _BOUNDED[kind](error)
    raised = _ctx(error, "error")
    if kind in {"value_error", "assertion_error"} and raised is not None:
        return str(raised)
    message = str(error["msg"])
    return message[:1].lower() + message[1:]


def location(error: ErrorDetails, skip: Iterable[str] = ()) -> str:
    """The dotted path of the failing field (`provides.db.interface`); `skip` drops the
    framework's own prefixes (`body`, `query`)."""
    hidden = set(skip)
    return ".".join(str(part) for part in error["loc"] if part not in hidden)
