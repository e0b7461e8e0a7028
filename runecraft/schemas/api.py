"""Requests and responses of the controller's HTTP API (the OpenAPI document is made from
these)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "ActionInfo",
    "ActionLogEntry",
    "ActionsResponse",
    "AddCloudRequest",
    "AddModelRequest",
    "AddUnitsRequest",
    "ApplicationConfig",
    "ApplicationRemoval",
    "BundleCharm",
    "BundleExport",
    "BundleRequest",
    "BundleResponse",
    "CharmInfo",
    "CharmOrigin",
    "CloudCredential",
    "CloudCredentialRequest",
    "CloudInfo",
    "CloudRemoved",
    "CloudSpec",
    "ConfigRequest",
    "ConfigSetting",
    "ControllerInfo",
    "DeployRequest",
    "ErrorBody",
    "ErrorDetail",
    "Health",
    "IntegrateRequest",
    "ModelConfigEntry",
    "ModelConfigRequest",
    "ModelInfo",
    "ModelRemoval",
    "PasswordChanged",
    "RefreshRequest",
    "RefreshResponse",
    "RelationEndpointInfo",
    "RelationInfo",
    "RelationRemoval",
    "RemoveRelationRequest",
    "RemoveUnitsRequest",
    "ResolveRequest",
    "Revoked",
    "RunActionRequest",
    "ScaleRequest",
    "ScaleResponse",
    "Stopping",
    "UnitsResponse",
    "UpdateCloudRequest",
    "UserRemoved",
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AddModelRequest(_Request):
    name: str = Field(min_length=1, max_length=63)
    cloud: str = "local"
    config: dict[str, Any] = Field(default_factory=dict)


class ModelInfo(BaseModel):
    name: str
    uuid: str
    cloud: str
    life: str
    revision: int
    type: str = "iaas"
    """Juju's model type: "caas" on a Kubernetes cloud (units are pods), else "iaas"."""


class AddCloudRequest(_Request):
    """A Kubernetes cloud: the kubeconfig (its files embedded) and the context to use."""

    name: str = Field(min_length=1, max_length=64)
    type: Literal["kubernetes", "k8s"] = "kubernetes"
    kubeconfig: dict[str, Any]
    context: str | None = Field(default=None, min_length=1)
    """The kubeconfig's context to use (default: its current-context)."""


class CloudInfo(BaseModel):
    """A cloud as `clouds`/`show-cloud` show it; its credential is never shown."""

    name: str
    type: str
    """The provider type (`kubernetes`, `lxd`, `local`, ...)."""
    endpoint: str = ""
    defined: Literal["built-in", "added"]
    auth_type: str = ""
    """How the controller authenticates to it (Juju's auth type: `oauth2`, ...)."""
    credential: str = ""
    """The name of the credential it authenticates with (never its secrets)."""


class UpdateCloudRequest(_Request):
    """A new definition of a cloud the controller has (`update-cloud`): where its API is
    and the authority its certificate is checked against; its credential stays."""

    endpoint: str = Field(pattern=r"^https?://")
    ca_certificates: list[str] = Field(default_factory=list)
    """PEM certificates; the first is the one checked against."""


class CloudCredentialRequest(_Request):
    """A credential for a cloud the controller has (`add-credential --controller`): its
    name and the kubeconfig user it stands for."""

    credential: str = Field(min_length=1, max_length=64)
    user: dict[str, Any]


class CharmOrigin(_Request):
    """Where a deployed charm came from (Juju's charm origin): Charmhub, with the charm's
    name there, the channel it follows in full (`latest/edge`, `3.6/stable/hotfix`) and
    its Charmhub revision; or a local charm (no more to say)."""

    source: Literal["charmhub", "local"]
    name: str = Field(default="", max_length=128, pattern=r"^([a-z0-9][a-z0-9-]*)?$")
    channel: str = Field(
        default="",
        max_length=128,
        pattern=r"^([a-z0-9][a-z0-9.-]*/(stable|candidate|beta|edge)(/[a-z0-9][a-z0-9.-]*)?)?$",
    )
    revision: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _complete(self) -> CharmOrigin:
        if self.source == "charmhub" and not (self.name and self.channel):
            raise ValueError("a Charmhub origin needs the charm's name and channel")
        if self.source == "charmhub" and self.revision is None:
            raise ValueError("a Charmhub origin needs the charm's Charmhub revision")
        if self.source == "local" and (self.name or self.channel or self.revision is not None):
            raise ValueError("a local origin has no name, channel or revision")
        return self


class DeployRequest(_Request):
    application: str = Field(min_length=1, max_length=63)
    charm_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    num_units: int = Field(default=1, ge=0, le=10000)
    config: dict[str, Any] = Field(default_factory=dict)
    to: list[str] = Field(default_factory=list)
    storage: dict[str, str] = Field(default_factory=dict)
    """`--storage name=[pool,]size,count`, as name → `[pool,]size,count`."""
    resources: dict[str, str] = Field(default_factory=dict)
    """`--resource name=PATH`, as name → sha256 of the file uploaded beforehand."""
    constraints: list[str] = Field(default_factory=list)
    """`--constraints`, as given (`mem=4G cores=2`); stored before the first machine."""
    base: str = ""
    trust: bool = False
    origin: CharmOrigin | None = None
    """Where the charm came from; none: a local charm."""


class AddUnitsRequest(_Request):
    num_units: int = Field(default=1, ge=1, le=10000)
    to: list[str] = Field(default_factory=list)


class BundleCharm(_Request):
    """A charm the client found on its disk for an application of a bundle."""

    name: str = Field(min_length=1)
    """The charm's own name (its metadata), which the plan compares with the model's."""
    path: str
    """Where the client found it, for the plan's description."""
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    """The archive the client uploaded beforehand; needed to apply, not to plan."""
    origin: CharmOrigin | None = None
    """Where the client fetched it from (Charmhub); none: a local charm."""


MAX_BUNDLE_CHARS = 4 * 1024 * 1024


class BundleRequest(_Request):
    """A bundle to plan, or to apply in one transaction."""

    bundle: str = Field(min_length=1, max_length=MAX_BUNDLE_CHARS)
    """The bundle with its overlays merged, as YAML (the client's `bundle.dump`); the
    controller reads and checks it again."""
    charms: dict[str, BundleCharm] = Field(default_factory=dict)
    """Per application, the charm the client found on disk; the charm of an application
    left out is looked up by name (and revision) in the controller's charm store."""
    prune: bool = False
    """Also remove what the bundle does not declare."""
    dry_run: bool = False
    """Plan only: nothing is changed."""
    expect_revision: int | None = None
    """Refuse unless the model is at this revision when the transaction starts."""


class BundleResponse(BaseModel):
    """The plan (`runecraft.bundles.Plan` as JSON), the model it was made against
    (`runecraft.bundles.ModelView` as JSON), and whether it was applied."""

    plan: dict[str, Any]
    view: dict[str, Any]
    applied: bool
    revision: int
    """The model's revision now (moved by one when the bundle changed anything)."""
    machines: dict[str, str] = Field(default_factory=dict)
    """The machine of each unit the bundle added (unit -> machine id)."""


class BundleExport(BaseModel):
    """A model as a bundle."""

    bundle: str
    """YAML; applying it to an empty model and exporting again gives the same text."""


class RemoveUnitsRequest(_Request):
    units: list[str] = Field(min_length=1)
    force: bool = False
    """Juju's `--force`: a failing hook no longer holds the removal."""
    no_wait: bool = False
    """Juju's `--no-wait` (with `force`): the units are forgotten at once."""


class ScaleRequest(_Request):
    """Juju's ScaleApplication: the application's number of alive units (`scale`), or a
    change to it (`change`: `add-unit -n N` is +N, `remove-unit --num-units N` is -N)."""

    scale: int | None = Field(default=None, ge=0, le=10000)
    change: int | None = Field(default=None, ge=-10000, le=10000)

    @model_validator(mode="after")
    def _one_of(self) -> ScaleRequest:
        if (self.scale is None) == (self.change is None):
            raise ValueError("give either scale or change")
        return self


class ScaleResponse(BaseModel):
    application: str
    scale: int
    """Alive units once the change is made."""
    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    """Units marked dying (highest number first)."""


class ConfigRequest(_Request):
    values: dict[str, Any] = Field(default_factory=dict)
    reset: list[str] = Field(default_factory=list)


class ModelConfigRequest(_Request):
    values: dict[str, Any] = Field(default_factory=dict)
    reset: list[str] = Field(default_factory=list)


class IntegrateRequest(_Request):
    """`integrate A[:endpoint] B[:endpoint]`."""

    endpoints: list[str] = Field(min_length=2, max_length=2)


class RemoveRelationRequest(_Request):
    """Two endpoints (`app[:endpoint]`), or one relation id."""

    endpoints: list[str] = Field(min_length=1, max_length=2)


class RelationEndpointInfo(BaseModel):
    application: str
    endpoint: str
    role: str
    interface: str
    scope: str
    limit: int | None = None


class RelationInfo(BaseModel):
    id: int
    key: str
    life: str
    interface: str
    endpoints: list[RelationEndpointInfo]


class RunActionRequest(_Request):
    """Run `action` on each unit (`app/leader` is the application's leader)."""

    units: list[str] = Field(min_length=1)
    action: str = Field(min_length=1, max_length=128)
    params: dict[str, Any] = Field(default_factory=dict)


class ActionLogEntry(BaseModel):
    timestamp: float
    message: str


class ActionInfo(BaseModel):
    """An action (Juju: a task) and, once it finished, its outcome."""

    id: str
    unit: str
    name: str
    params: dict[str, Any]
    status: str
    """`pending`, `running`, `completed` or `failed`."""
    message: str = ""
    results: dict[str, Any] = Field(default_factory=dict)
    log: list[ActionLogEntry] = Field(default_factory=list)
    enqueued: float
    started: float | None = None
    completed: float | None = None


class ActionsResponse(BaseModel):
    actions: list[ActionInfo]


class ResolveRequest(_Request):
    units: list[str] = Field(min_length=1)
    no_retry: bool = False
    """Commit the failed hook as if it succeeded, without running it again."""


class RefreshRequest(_Request):
    charm_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    origin: CharmOrigin | None = None
    """Where the new charm came from; none: a local charm (`refresh --path`)."""


class RefreshResponse(BaseModel):
    application: str
    charm: str
    revision: int


class UnitsResponse(BaseModel):
    units: list[str]
    machines: dict[str, str] = Field(default_factory=dict)
    """The machine of each unit added (unit -> machine id): placement is decided when
    units are added, so the answer can name them."""

    @classmethod
    def placed(cls, machines: Mapping[str, int]) -> UnitsResponse:
        """The answer for units just added, from unit -> machine number."""
        return cls(units=list(machines), machines={u: str(m) for u, m in machines.items()})


class CharmInfo(BaseModel):
    sha256: str
    name: str
    size: int


class ControllerInfo(BaseModel):
    name: str
    uuid: str
    version: str
    agent_version: str
    broker: str


class ModelConfigEntry(BaseModel):
    """Juju's `model-config --format json` entry: the value and where it comes from
    (`default` or `model`)."""

    Value: Any
    Source: str


class ConfigSetting(BaseModel):
    """An option in Juju's `config --format json`: `source` is `user`, `default` or `unset`
    (then it has no `value`)."""

    type: str
    description: str = ""
    source: str
    default: Any = None
    value: Any = None


class ApplicationConfig(BaseModel):
    """Juju's `config --format json` document of an application."""

    model_config = ConfigDict(populate_by_name=True)

    application: str
    charm: str
    application_config: dict[str, ConfigSetting] = Field(alias="application-config")
    settings: dict[str, ConfigSetting]


class CloudCredential(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    auth_type: str = Field(alias="auth-type")
    """`oauth2`, `clientcertificate`, `userpass`, or `empty` (an exec plugin's)."""
    attrs: dict[str, str]


class CloudSpec(BaseModel):
    """Juju's cloud spec, what `credential-get` prints for a trusted unit."""

    model_config = ConfigDict(populate_by_name=True)

    type: str
    name: str
    region: str
    endpoint: str
    identity_endpoint: str = Field(alias="identity-endpoint")
    storage_endpoint: str = Field(alias="storage-endpoint")
    credential: CloudCredential
    cacertificates: list[str]
    skip_tls_verify: bool = Field(alias="skip-tls-verify")
    is_controller_cloud: bool = Field(alias="is-controller-cloud")


class Health(BaseModel):
    """`bus`: `connected` or `connecting` (the controller's own bus client); `broker`:
    `running`, `restarting` or `down`, with `broker_message` saying why when it is not
    running (left out when it is)."""

    status: Literal["ok"] = "ok"
    uuid: str
    bus: Literal["connected", "connecting"]
    broker: str
    broker_message: str | None = None


class Stopping(BaseModel):
    stopping: bool


class Revoked(BaseModel):
    """`logout`: whether the token was revoked (the admin token cannot be)."""

    revoked: bool


class PasswordChanged(BaseModel):
    """How many of the user's other tokens stopped working."""

    revoked: int


class UserRemoved(BaseModel):
    user: str


class CloudRemoved(BaseModel):
    cloud: str


class ModelRemoval(BaseModel):
    model: str
    life: str


class ApplicationRemoval(BaseModel):
    application: str
    life: str


class OfferRequest(_Request):
    """`offer [MODEL.]APP:EP[,EP...] [NAME]`."""

    application: str = Field(min_length=1, max_length=128)
    endpoints: list[str] = Field(min_length=1)
    name: str | None = Field(default=None, min_length=1, max_length=128)


class RemoveOfferRequest(_Request):
    """`remove-offer URL [--force]`: the offer's name in the path's model."""

    name: str = Field(min_length=1, max_length=128)
    force: bool = False


class ConsumeRequest(_Request):
    """`consume [CTRL:][OWNER/]MODEL.OFFER [ALIAS]`."""

    url: str = Field(min_length=1, max_length=300)
    alias: str | None = Field(default=None, min_length=1, max_length=128)


class RemoveSaasRequest(_Request):
    """`remove-saas NAME`."""

    name: str = Field(min_length=1, max_length=128)


class OfferEndpointInfo(BaseModel):
    interface: str
    role: str


class OfferConnectionInfo(BaseModel):
    """A relation of a consuming model with an offer (`relation_id`: the offering side's)."""

    source_model_uuid: str
    relation_id: int
    endpoint: str


class OfferInfo(BaseModel):
    """An offer as `offers` shows it."""

    name: str
    url: str
    application: str
    charm: str
    endpoints: dict[str, OfferEndpointInfo]
    connections: list[OfferConnectionInfo]
    access: str = "admin"
    """The caller's access to the offer (Juju's read, consume or admin)."""
    users: dict[str, str] = Field(default_factory=dict)
    """User -> access to the offer, as `show-offer` lists them: every one for the offer's
    admin, else the caller alone (`find-offers`)."""


class SaasInfo(BaseModel):
    """A consumed offer (remote application) of a model."""

    name: str
    url: str
    endpoints: dict[str, OfferEndpointInfo]
    life: str


class RelationRemoval(BaseModel):
    id: int
    key: str
    life: str


class ErrorDetail(BaseModel):
    """`code` names the error's class in the one error tree (`invalid`, `not-found`, ...),
    so a client raises the same error the controller did."""

    code: str
    message: str


class ErrorBody(BaseModel):
    """Every error answer: `{"error": {"code": ..., "message": ...}}`."""

    error: ErrorDetail
