"""Name rules shared by every service (Juju's)."""

from __future__ import annotations

import re

from runecraft import errors
from runecraft.schemas.logs import CONTROLLER_MODEL
from runecraft.schemas.names import APPLICATION

__all__ = ["check_application_name", "check_model_name", "parse_unit_name"]

_APP = re.compile(rf"^{APPLICATION}\Z")
_MODEL = re.compile(r"^[a-z0-9]+[a-z0-9-]*\Z")
_UNIT = re.compile(rf"^({APPLICATION})/(\d+)\Z")


def check_application_name(name: str) -> str:
    if not _APP.match(name):
        raise errors.InvalidSpecError(
            f'invalid application name "{name}": use lowercase letters, digits and hyphens, '
            "starting with a letter and not ending with a hyphen or a digit-only segment"
        )
    return name


def check_model_name(name: str) -> str:
    if not _MODEL.match(name) or len(name) > 63:
        raise errors.InvalidSpecError(
            f'invalid model name "{name}": use lowercase letters, digits and hyphens'
        )
    if name == CONTROLLER_MODEL:
        raise errors.InvalidSpecError(
            f'model name "{name}" is reserved: `debug-log -m {name}` shows the controller\'s log'
        )
    return name


def parse_unit_name(name: str) -> tuple[str, int]:
    match = _UNIT.match(name)
    if match is None:
        raise errors.InvalidSpecError(f'invalid unit name "{name}": expected APPLICATION/NUMBER')
    return match.group(1), int(match.group(2))
