"""Business operations of the controller: validate, then change the model in one go."""

from __future__ import annotations

from runecraft.controller.services._actions import ActionService
from runecraft.controller.services._agents import HEARTBEAT_SECONDS, MAX_WAITING, AgentService
from runecraft.controller.services._appsettings import SettingsService
from runecraft.controller.services._audit import AuditService
from runecraft.controller.services._bundles import BundleOutcome, BundleService
from runecraft.controller.services._catalog import CatalogService
from runecraft.controller.services._clouds import CloudRegistry, CloudService
from runecraft.controller.services._credentials import CredentialService
from runecraft.controller.services._hooks import MAX_LIMIT as MAX_HOOK_RUNS
from runecraft.controller.services._hooks import HookService
from runecraft.controller.services._hub import ChangeHub
from runecraft.controller.services._logs import LogQuery, LogService
from runecraft.controller.services._machines import (
    AddedMachine,
    Enlister,
    MachineService,
    agent_machine_spec,
)
from runecraft.controller.services._metrics import MetricSources, MetricsService
from runecraft.controller.services._offers import OfferView, parse_offer_url
from runecraft.controller.services._relations import RelationService
from runecraft.controller.services._resources import ResourceService
from runecraft.controller.services._secrets import SecretService
from runecraft.controller.services._service import (
    DEFAULT_MODEL_CONFIG,
    ModelService,
    charm_config,
)
from runecraft.controller.services._sshkeys import AuthorizedKeyService
from runecraft.controller.services._stalls import StallWatch
from runecraft.controller.services._status import (
    JUJU_VERSION,
    StatusService,
    build_status,
    derive_application_status,
)
from runecraft.controller.services._unitinfo import build_unit_info
from runecraft.controller.services._users import (
    ADMIN_USER,
    Principal,
    UserService,
    offer_level,
)
from runecraft.controller.services._views import action_info, model_info, relation_info
from runecraft.controller.state import SaasRecord as SaasView

__all__ = [
    "ADMIN_USER",
    "DEFAULT_MODEL_CONFIG",
    "HEARTBEAT_SECONDS",
    "JUJU_VERSION",
    "MAX_HOOK_RUNS",
    "MAX_WAITING",
    "ActionService",
    "AddedMachine",
    "AgentService",
    "AuditService",
    "AuthorizedKeyService",
    "BundleOutcome",
    "BundleService",
    "CatalogService",
    "ChangeHub",
    "CloudRegistry",
    "CloudService",
    "CredentialService",
    "Enlister",
    "HookService",
    "LogQuery",
    "LogService",
    "MachineService",
    "MetricSources",
    "MetricsService",
    "ModelService",
    "OfferView",
    "Principal",
    "RelationService",
    "ResourceService",
    "SaasView",
    "SecretService",
    "SettingsService",
    "StallWatch",
    "StatusService",
    "UserService",
    "action_info",
    "agent_machine_spec",
    "build_status",
    "build_unit_info",
    "charm_config",
    "derive_application_status",
    "model_info",
    "offer_level",
    "parse_offer_url",
    "relation_info",
]
