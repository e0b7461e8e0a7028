"""Juju's name rules as regular-expression fragments, shared by every parser of names."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

__all__ = ["APPLICATION", "Label", "check_printable", "is_control", "unit_tag"]

APPLICATION = r"[a-z][a-z0-9]*(?:-[0-9]*[a-z][a-z0-9]*)*"
"""An application name: lowercase words joined by hyphens; no segment is digits only (so
`app-0` is not an application name, and `unit-app-0` reads unambiguously as a unit tag).

Each segment is spelled `[0-9]*[a-z][a-z0-9]*` (its digits, then its first letter), not
Juju's `[a-z0-9]*[a-z][a-z0-9]*`: the same names, but one way to match each, so a long
refused name costs linear time instead of backtracking through every split of every
segment (`a-aaaa-aaaa-…-aaaa!` took minutes)."""


def is_control(char: str) -> bool:
    """A control character (newline, carriage return, NUL, DEL, C1 controls) or a Unicode
    line or paragraph separator: nothing a name, label or key may hold."""
    return unicodedata.category(char) in ("Cc", "Zl", "Zp")


def check_printable(text: str, what: str = "name") -> str:
    """`text`, if it holds no control character; else a `ValueError` naming it and `what`.

    For free-form names (secret names and labels, keys) that have no stricter rule: a
    newline or NUL in one would reach logs, files and the agents' hook environment.
    """
    for index, char in enumerate(text):
        if is_control(char):
            raise ValueError(
                f"{what} {text!r} not valid: control character {char!r} at position {index}"
            )
    return text


def _label(text: str) -> str:
    return check_printable(text, "label")


Label = Annotated[str, AfterValidator(_label)]
"""A free-form name or label: any text without control characters."""


def unit_tag(unit: str) -> str:
    """Juju's tag of a unit: `app/0` is `unit-app-0`."""
    return "unit-" + unit.replace("/", "-")
