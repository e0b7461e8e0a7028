"""`juju exec`: a command run on a unit in hook context, queued like an action.

Juju queues an exec as an operation whose action is named `juju-exec`, with the command
and its timeout as parameters; the unit agent runs it, serialised with hooks, and reports
`return-code`, `stdout` and `stderr` as the task's results. Runecraft does the same, so an
exec shares the action table, the bus message and `show-task`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runecraft import errors
from runecraft.schemas import problems

__all__ = ["DEFAULT_TIMEOUT", "JUJU_EXEC", "ExecParams"]

JUJU_EXEC = "juju-exec"
"""The action name of an exec (Juju's `actions.JujuExecActionName`); charms cannot define
it (Juju reserves the `juju-` prefix)."""

DEFAULT_TIMEOUT = 300.0
"""Seconds a command may run when no timeout is given (`juju exec --wait` default 5m)."""


class ExecParams(BaseModel):
    """The parameters of a `juju-exec` task."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command: str = Field(min_length=1)
    """Shell text run with bash (the CLI joins its arguments with spaces, as Juju does)."""
    timeout: float = Field(default=DEFAULT_TIMEOUT, gt=0)
    """Seconds after which the command is killed and the task fails."""

    @classmethod
    def parse(cls, params: Mapping[str, Any]) -> ExecParams:
        """Validated parameters; raises `InvalidSpecError` naming the bad field."""
        try:
            return cls.model_validate(dict(params))
        except ValidationError as exc:
            detail = "; ".join(
                f"{problems.location(err) or 'params'}: {problems.reason(err)}"
                for err in exc.errors()
            )
            raise errors.InvalidSpecError(f"invalid exec parameters: {detail}") from None
