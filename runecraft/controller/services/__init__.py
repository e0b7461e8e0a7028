"""Business operations of the controller: validate, then change the model in one go."""

from __future__ import annotations

from runecraft.controller.services._actions import ActionService
from runecraft.controller.services._agents import HEARTBEAT_SECONDS, AgentService
from runecraft.controller.services._appsettings import SettingsService
from runecraft.controller.services._bundles import BundleOutcome, BundleService
from runecraft.controller.services._hub import ChangeHub
from runecraft.controller.services._logs import LogQuery, LogService
from runecraft.controller.services._machines import AddedMachine, Enlister, MachineService
from runecraft.controller.services._relations import RelationService
from runecraft.controller.services._service import DEFAULT_MODEL_CONFIG, ModelService
from runecraft.controller.services._status import (
    JUJU_VERSION,
    build_status,
    derive_application_status,
)
from runecraft.controller.services._unitinfo import build_unit_info

__all__ = [
    "DEFAULT_MODEL_CONFIG",
    "HEARTBEAT_SECONDS",
    "JUJU_VERSION",
    "ActionService",
    "AddedMachine",
    "AgentService",
    "BundleOutcome",
    "BundleService",
    "ChangeHub",
    "Enlister",
    "LogQuery",
    "LogService",
    "MachineService",
    "ModelService",
    "RelationService",
    "SettingsService",
    "build_status",
    "build_unit_info",
    "derive_application_status",
]
