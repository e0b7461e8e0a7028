"""Juju-style argument handling that click lacks: `-m/--model` anywhere on the line,
`[controller:][user/]model` names, Go durations."""

from __future__ import annotations

from collections.abc import Sequence

from runecraft import errors
from runecraft.schemas import duration

__all__ = ["MODEL_FROM_ARGV", "hoist_model", "model_name", "parse_duration"]

MODEL_FROM_ARGV: list[str | None] = [None]
"""The model `-m/--model` named on this command line (set once by the entry point)."""


def hoist_model(argv: Sequence[str]) -> tuple[str | None, list[str]]:
    """Take `-m X`, `--model X` or `--model=X` from anywhere before `--`."""
    model = None
    rest: list[str] = []
    i = 0
    args = list(argv)
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        if arg in ("-m", "--model"):
            if i + 1 >= len(args):
                raise errors.UsageError(f"option {arg} needs a model name")
            model = args[i + 1]
            i += 2
            continue
        if arg.startswith("--model="):
            model = arg.split("=", 1)[1]
        elif arg.startswith("-m") and len(arg) > 2 and not arg.startswith("--"):
            model = arg[2:]
        else:
            rest.append(arg)
        i += 1
    return model, rest


def model_name(spec: str) -> str:
    """`ctrl:admin/m` → `m`."""
    name = spec.split(":", 1)[-1]
    return name.split("/", 1)[-1]


def parse_duration(text: str) -> float:
    """Seconds from a Go duration; a bad one is a usage error."""
    try:
        return duration.parse_duration(text)
    except ValueError as exc:
        raise errors.UsageError(str(exc)) from exc
