"""The manual substrate: existing machines enlisted over SSH."""

from __future__ import annotations

from runecraft.controller.providers.ssh._connect import TRUST_ON_FIRST_USE, HostKeys
from runecraft.controller.providers.ssh._provider import (
    DEFAULT_INSTALL_DIR,
    Enlistment,
    Probe,
    SshProvider,
)
from runecraft.schemas.ssh_target import SshTarget, parse_target

__all__ = [
    "DEFAULT_INSTALL_DIR",
    "TRUST_ON_FIRST_USE",
    "Enlistment",
    "HostKeys",
    "Probe",
    "SshProvider",
    "SshTarget",
    "parse_target",
]
