"""The part of state the services use, declared once.

Per repository of a transaction, the methods services call on it, and a `With…` Protocol
for the attribute that holds it; each service (and each pure rule module) composes the
state it needs from these in one class statement, and its store as a `StateStore` of that
state. The store's `Store` and `Tx` are checked against them where the services are built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, Protocol, TypeVar

from runecraft.controller import state
from runecraft.controller.services._hub import ChangeHub
from runecraft.schemas import bus
from runecraft.schemas import charm as charm_schema

__all__ = [
    "ActionRows",
    "ApplicationRows",
    "CharmRows",
    "MachineRows",
    "ModelReads",
    "ModelRows",
    "RelationRows",
    "ResourceRows",
    "SecretRepository",
    "StateStore",
    "StorageRows",
    "StoreService",
    "UnitRows",
    "WithActions",
    "WithApplications",
    "WithCharms",
    "WithMachines",
    "WithModel",
    "WithModels",
    "WithRelations",
    "WithResources",
    "WithSecrets",
    "WithStorage",
    "WithUnits",
]

StateT_co = TypeVar("StateT_co", covariant=True)


class StateStore(Protocol[StateT_co]):
    """A store whose write transactions offer the state a service declares."""

    def write(self, model_name: str | None = None) -> AbstractAsyncContextManager[StateT_co]: ...


class ModelReads(Protocol):
    """Reads outside a transaction: a model by name, and a model read whole."""

    async def model(self, name: str) -> state.ModelRecord: ...

    async def snapshot(self, model_uuid: str | None = None) -> state.ModelSnapshot: ...


class WithModel(Protocol):
    """The transaction's model (None for a transaction on no model)."""

    @property
    def model(self) -> state.ModelRecord | None: ...


class ModelRows(Protocol):
    async def update(self, **values: Any) -> None: ...


class WithModels(Protocol):
    @property
    def models(self) -> ModelRows: ...


class ApplicationRows(Protocol):
    async def get(self, name: str) -> state.ApplicationRecord: ...

    async def find(self, name: str) -> state.ApplicationRecord | None: ...

    async def by_id(self, application_id: int) -> state.ApplicationRecord: ...

    async def insert(
        self, *, name: str, charm_sha256: str, config: dict[str, Any], **settings: Any
    ) -> state.ApplicationRecord: ...

    async def update(self, app: state.ApplicationRecord, **values: Any) -> None: ...

    async def set_leader_settings(
        self, app: state.ApplicationRecord, settings: dict[str, str]
    ) -> None: ...

    async def renew_leases(
        self, model_uuid: str, machine_number: int, units: Sequence[str], expiry: float
    ) -> None: ...

    async def renew_leases_of(self, leases: Sequence[tuple[str, int, str, float]]) -> None: ...

    async def apply_status(
        self, model_uuid: str, machine_number: int, report: bus.AppStatusReport, now: float
    ) -> state.SeqCheck | None: ...


class WithApplications(Protocol):
    @property
    def applications(self) -> ApplicationRows: ...


class UnitRows(Protocol):
    async def get(self, name: str) -> state.UnitRecord: ...

    async def on_machine(
        self, model_uuid: str, machine_number: int, name: str
    ) -> state.UnitRecord | None: ...

    async def apply_report(
        self, model_uuid: str, machine_number: int, report: bus.UnitReport, now: float
    ) -> state.SeqCheck | None: ...

    async def on_machines(
        self, keys: Sequence[state.UnitKey]
    ) -> dict[state.UnitKey, state.UnitRecord]: ...

    async def stored_reports(
        self, keys: Sequence[state.UnitKey]
    ) -> dict[state.UnitKey, tuple[state.StoredReport, int]]: ...

    async def write_reports(self, writes: Sequence[state.ReportWrite], now: float) -> bool: ...

    async def names_on_machine(self, number: int) -> list[str]: ...

    async def of_application(self, app: state.ApplicationRecord) -> list[state.UnitRecord]: ...

    async def add(
        self,
        app: state.ApplicationRecord,
        count: int,
        machine_numbers: Sequence[int | None],
        numbers: Sequence[int] | None = None,
    ) -> list[str]: ...

    async def update(self, unit: state.UnitRecord, *, log: bool = True, **values: Any) -> None: ...

    async def force_removal(
        self, remove_after: float, application_id: int | None = None
    ) -> None: ...


class WithUnits(Protocol):
    @property
    def units(self) -> UnitRows: ...


class MachineRows(Protocol):
    async def get(self, number: int) -> state.MachineRecord: ...

    async def all(self) -> list[state.MachineRecord]: ...

    async def address(self, model_uuid: str, machine_number: int) -> str: ...

    async def insert(self, **values: Any) -> state.MachineRecord: ...

    async def update(self, machine: state.MachineRecord, **values: Any) -> None: ...

    async def mark_all_started(self, started: Sequence[tuple[str, int, float]]) -> bool: ...

    async def mark_started(self, model_uuid: str, machine_number: int, now: float) -> bool: ...

    async def delete(self, machine: state.MachineRecord) -> None: ...


class HookRunRows(Protocol):
    async def record(self, runs: Sequence[tuple[str, int, bus.HookRun]]) -> None: ...


class WithHookRuns(Protocol):
    @property
    def hook_runs(self) -> HookRunRows: ...


class WithMachines(Protocol):
    @property
    def machines(self) -> MachineRows: ...


class CharmRows(Protocol):
    async def get(self, sha256: str) -> state.CharmRecord: ...

    async def meta(self, sha256: str) -> dict[str, Any] | None: ...

    async def named(self, name: str) -> list[state.CharmRecord]: ...


class WithCharms(Protocol):
    @property
    def charms(self) -> CharmRows: ...


class RelationRows(Protocol):
    async def all(
        self, model_uuid: str | None = None
    ) -> list[tuple[state.RelationRecord, list[state.EndpointRecord]]]: ...

    async def insert(
        self, key: str, endpoints: Sequence[state.EndpointRecord], model_uuid: str | None = None
    ) -> state.RelationRecord: ...

    async def set_life(self, relation: state.RelationRecord, life: str) -> None: ...

    async def kill_of(self, application: str, *, peers: bool = False) -> list[int]: ...

    async def scopes_of(self, model_uuid: str, unit: str) -> set[int]: ...

    async def scopes_of_units(
        self, units: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], set[int]]: ...

    async def enter_scope(self, model_uuid: str, relation_id: int, unit: str) -> None: ...

    async def leave_scope(self, model_uuid: str, relation_id: int, unit: str) -> None: ...

    async def databags_of(
        self, model_uuid: str, relation_ids: Sequence[int], owners: Sequence[str]
    ) -> list[state.DatabagRecord]: ...

    async def save_databag(self, bag: state.DatabagRecord, *, new: bool) -> None: ...


class WithRelations(Protocol):
    @property
    def relations(self) -> RelationRows: ...


class OfferRows(Protocol):
    async def offers(self, model_uuid: str) -> list[state.OfferRecord]: ...

    async def offer(self, model_uuid: str, name: str) -> state.OfferRecord | None: ...

    async def add_offer(self, offer: state.OfferRecord) -> None: ...

    async def remove_offer(self, offer: state.OfferRecord) -> None: ...

    async def charm_of(self, model_uuid: str, application: str) -> str: ...

    async def saas_of(self, model_uuid: str) -> list[state.SaasRecord]: ...

    async def saas(self, model_uuid: str, name: str) -> state.SaasRecord | None: ...

    async def saas_by_token(self, token: str) -> state.SaasRecord | None: ...

    async def add_saas(self, saas: state.SaasRecord) -> None: ...

    async def remove_saas(self, saas: state.SaasRecord) -> None: ...

    async def link(self, link: state.CrossModelRecord) -> None: ...

    async def links(self, model_uuid: str) -> list[state.CrossModelRecord]: ...


class WithOffers(Protocol):
    @property
    def offers(self) -> OfferRows: ...


class StorageRows(Protocol):
    async def set_directives(
        self, model_uuid: str, application: str, allocation: Mapping[str, tuple[int, int]]
    ) -> None: ...

    async def directives(self, model_uuid: str, application: str) -> dict[str, tuple[int, int]]: ...

    async def attach_to_units(
        self,
        model_uuid: str,
        application: str,
        units: Sequence[str],
        declared: Mapping[str, charm_schema.StorageSpec],
    ) -> None: ...

    async def unit_counts(self, model_uuid: str, unit: str) -> dict[str, int]: ...

    async def add(
        self, model_uuid: str, unit: str, name: str, count: int, *, kind: str, size_mib: int
    ) -> list[str]: ...


class WithStorage(Protocol):
    @property
    def storage(self) -> StorageRows: ...


class ResourceRows(Protocol):
    async def put_blob(self, data: bytes) -> str: ...

    async def attach(
        self, model_uuid: str, application: str, name: str, sha256: str
    ) -> state.ResourceRecord: ...

    async def of_application(
        self, model_uuid: str, application: str
    ) -> list[state.ResourceRecord]: ...


class WithResources(Protocol):
    @property
    def resources(self) -> ResourceRows: ...


class ActionRows(Protocol):
    async def insert(self, unit: str, name: str, params: dict[str, Any]) -> state.ActionRecord: ...

    async def of_unit(
        self, model_uuid: str, unit: str, action_id: str
    ) -> state.ActionRecord | None: ...

    async def update(self, model_uuid: str, action_id: int, **values: Any) -> None: ...


class WithActions(Protocol):
    @property
    def actions(self) -> ActionRows: ...


class SecretRepository(Protocol):
    """The secret rows a transaction reads and writes."""

    async def rows(
        self, model_uuid: str, secret_ids: Sequence[str], unit: str | None = None
    ) -> state.SecretRows: ...

    async def find_user(
        self, model_uuid: str, *, secret_id: str | None = None, name: str | None = None
    ) -> state.SecretRecord | None: ...

    async def insert(self, secret: state.SecretRecord, content: Mapping[str, str]) -> None: ...

    async def insert_revision(
        self,
        model_uuid: str,
        secret_id: str,
        revision: int,
        content: Mapping[str, str],
        created: float,
    ) -> None: ...

    async def update(self, model_uuid: str, secret_id: str, values: Mapping[str, Any]) -> None: ...

    async def delete_revision(self, model_uuid: str, secret_id: str, revision: int) -> None: ...

    async def delete(self, model_uuid: str, secret_id: str) -> None: ...

    async def insert_grant(self, grant: state.SecretGrantRecord) -> None: ...

    async def delete_grants(self, match: state.GrantMatch) -> None: ...

    async def save_consumer(self, consumer: state.SecretConsumerRecord, *, new: bool) -> None: ...


class WithSecrets(Protocol):
    @property
    def secrets(self) -> SecretRepository: ...


StoreT = TypeVar("StoreT")


class StoreService(Generic[StoreT]):
    """A service over a store (the Protocol it declares) whose writes wake the reconcilers
    through the hub."""

    def __init__(self, store: StoreT, hub: ChangeHub) -> None:
        self.store = store
        self.hub = hub
