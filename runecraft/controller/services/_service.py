"""The operations users ask for: each validates everything first, then writes once.

A request either changes the model in one transaction or raises a `RunecraftError` naming
what is wrong and changes nothing.
"""

from __future__ import annotations

import json
import re
import time
import uuid as uuidlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from runecraft import charms, errors
from runecraft.controller.services import _endpoints, _names
from runecraft.controller.services._clouds import CloudRegistry
from runecraft.controller.services._hub import ChangeHub
from runecraft.controller.services._placement import parse_placement, place_units
from runecraft.controller.services._ports import (
    StateStore,
    WithApplications,
    WithCharms,
    WithMachines,
    WithModel,
    WithModels,
    WithOffers,
    WithRelations,
    WithResources,
    WithStorage,
    WithUnits,
)
from runecraft.controller.services._relations import add_peer_relations
from runecraft.controller.services._resources import attach_at_deploy
from runecraft.controller.services._scaling import (
    check_caas_deploy,
    check_caas_leaving,
    check_caas_placement,
    check_caas_removals,
    is_caas,
    pod_ordinals,
    scale_plan,
)
from runecraft.controller.services._storage import attach_new_units, check_storage, record_storage
from runecraft.controller.state import (
    ApplicationRecord,
    CharmRecord,
    ModelRecord,
)
from runecraft.schemas import api, bus, logs
from runecraft.schemas import charm as charm_schema
from runecraft.schemas import clouds as cloud_schema
from runecraft.schemas.constraints import check_base, parse_constraints
from runecraft.schemas.duration import parse_duration
from runecraft.schemas.machines import CONTAINER_CLOUDS

__all__ = [
    "DEFAULT_MODEL_CONFIG",
    "ModelService",
    "ModelState",
    "Scaled",
    "add_units_in",
    "check_alive",
    "coerce_config",
    "deploy_in",
    "refresh_in",
    "remove_application_in",
    "remove_units_in",
    "scale_in",
    "set_config_in",
]

logger = structlog.get_logger(__name__)

DEFAULT_MODEL_CONFIG: dict[str, Any] = {
    "update-status-hook-interval": "5m",
    "automatically-retry-hooks": True,
    # Runecraft's own: ops hooks fork from a process with ops imported (agents/_forkserver).
    "hook-fork-server": True,
    # The image of a Kubernetes unit's charm container (it runs the unit agent); empty:
    # the provider's default.
    "agent-image": "",
    # Juju's loggo levels; the unit agent drops `juju-log` records below the unit's level.
    "logging-config": logs.DEFAULT_LOGGING_CONFIG,
}
MODEL_DEFAULTS = "model-defaults"
"""The controller setting holding the config new models start with (JSON)."""
IMAGE_REFERENCE = re.compile(r"^[a-z0-9]([a-z0-9._/:@-]*[a-z0-9])?\Z")


class ModelState(
    WithModel,
    WithModels,
    WithApplications,
    WithUnits,
    WithMachines,
    WithCharms,
    WithRelations,
    WithOffers,
    WithStorage,
    WithResources,
    Protocol,
):
    """What the model's operations need of a transaction (placement, storage, resources
    and peer relations included)."""


class ModelStore(StateStore[ModelState], Protocol):
    async def model(self, name: str) -> ModelRecord: ...

    async def controller_setting(self, key: str) -> str | None: ...

    async def put_controller_setting(self, key: str, value: str) -> None: ...

    async def create_model(
        self, name: str, uuid: str, cloud: str, config: dict[str, Any], model_type: str = "iaas"
    ) -> ModelRecord: ...

    async def put_charm(
        self,
        *,
        sha256: str,
        name: str,
        meta: dict[str, Any],
        config: dict[str, Any],
        actions: dict[str, Any],
        data: bytes,
    ) -> CharmRecord: ...


_CONFIG_SCHEMAS: dict[str, tuple[dict[str, Any], charm_schema.CharmConfig]] = {}


def charm_config(record: CharmRecord) -> charm_schema.CharmConfig:
    """The stored config.yaml of a charm as a schema object, parsed once: charms are
    content-addressed, so a sha256 names one schema (the reconciler asks on every snapshot
    it builds). The config it was parsed from is kept and compared, so a record that
    reuses a hash for other content (only tests make those) is parsed again, not mistaken."""
    cached = _CONFIG_SCHEMAS.get(record.sha256)
    if cached is not None and (cached[0] is record.config or cached[0] == record.config):
        return cached[1]
    schema = charm_schema.CharmConfig.model_validate({"options": {}, **record.config})
    _CONFIG_SCHEMAS[record.sha256] = (record.config, schema)
    return schema


def check_model_config(values: Mapping[str, Any]) -> dict[str, Any]:
    """Type-check model config: unknown keys and bad values name the key."""
    checked: dict[str, Any] = {}
    for key, value in values.items():
        if key not in DEFAULT_MODEL_CONFIG:
            known = ", ".join(sorted(DEFAULT_MODEL_CONFIG))
            raise errors.InvalidSpecError(f'unknown model config key "{key}" (known keys: {known})')
        try:
            if key == "agent-image":
                if not isinstance(value, str) or (value and not IMAGE_REFERENCE.match(value)):
                    raise ValueError(
                        f"expected an image reference such as repo/agent:1, got {value!r}"
                    )
                checked[key] = value
            elif key == "logging-config":
                if not isinstance(value, str):
                    raise ValueError(f"expected a string such as <root>=INFO, got {value!r}")
                logs.parse_logging_config(value)
                checked[key] = value
            elif key in ("automatically-retry-hooks", "hook-fork-server"):
                checked[key] = charm_schema.coerce_option_value("boolean", value)
                if checked[key] is None:
                    raise ValueError("expected true or false")
            else:
                if not isinstance(value, str | int | float) or isinstance(value, bool):
                    raise ValueError(f"expected a duration such as 5m, got {value!r}")
                if parse_duration(value) <= 0:
                    raise ValueError("must be more than zero")
                checked[key] = value if isinstance(value, str) else f"{value}s"
        except (ValueError, errors.InvalidSpecError) as exc:
            raise errors.InvalidSpecError(f'model config "{key}": {exc}') from exc
    return checked


class ModelService:
    """Models, charms, applications, units and config."""

    def __init__(
        self,
        store: ModelStore,
        hub: ChangeHub,
        substrate_ready: Callable[[str], Awaitable[None]] | None = None,
        clouds: CloudRegistry | None = None,
    ) -> None:
        self.store = store
        self.hub = hub
        self.substrate_ready = substrate_ready
        """Raises when a substrate named by a placement (`lxd`) cannot make machines now."""
        self.clouds = clouds or CloudRegistry()
        """The clouds models can be on (the built-in ones only, unless the controller's
        registry, which `CloudService` keeps, is given)."""

    # --- models ---------------------------------------------------------------------------

    async def add_model(
        self, name: str, cloud: str = "local", config: Mapping[str, Any] | None = None
    ) -> ModelRecord:
        """Add a model on a built-in or added cloud: a Kubernetes cloud's model is "caas"."""
        _names.check_model_name(name)
        spec = self.clouds.spec(cloud)
        defaults = await self._model_defaults()
        merged = {**DEFAULT_MODEL_CONFIG, **defaults, **check_model_config(config or {})}
        model = await self.store.create_model(
            name,
            str(uuidlib.uuid4()),
            cloud,
            merged,
            model_type=cloud_schema.model_type(spec.type),
        )
        self.hub.changed()
        logger.info("model added", model=name, uuid=model.uuid, cloud=cloud, type=model.type)
        return model

    async def _model_defaults(self) -> dict[str, Any]:
        stored = await self.store.controller_setting(MODEL_DEFAULTS)
        found: dict[str, Any] = json.loads(stored) if stored else {}
        return found

    async def model_defaults(self) -> dict[str, Any]:
        """Juju's `model-defaults --format json`: `{key: {"default": v, "controller": c?}}`
        (`controller`: the value new models get instead, set with `model-defaults k=v`)."""
        defaults = await self._model_defaults()
        return {
            key: {"default": value, **({"controller": defaults[key]} if key in defaults else {})}
            for key, value in sorted(DEFAULT_MODEL_CONFIG.items())
        }

    async def set_model_defaults(
        self, values: Mapping[str, Any], reset: Sequence[str] = ()
    ) -> dict[str, Any]:
        """Set or reset the config new models start with; models that exist keep theirs."""
        for key in reset:
            if key not in DEFAULT_MODEL_CONFIG:
                raise errors.InvalidSpecError(f'unknown model config key "{key}"')
        overlap = sorted(set(reset) & set(values))
        if overlap:
            raise errors.InvalidSpecError(f'key "{overlap[0]}" cannot be both set and reset')
        checked = check_model_config(values)
        defaults = {k: v for k, v in (await self._model_defaults()).items() if k not in reset}
        defaults.update(checked)
        await self.store.put_controller_setting(MODEL_DEFAULTS, json.dumps(defaults))
        logger.info("model defaults changed", keys=sorted([*checked, *reset]))
        return await self.model_defaults()

    async def destroy_model(self, name: str, *, force: bool = False) -> None:
        """Mark every unit and machine of the model dying; reconcilers remove them and then
        the model itself (with `force`, past failing hooks)."""
        async with self.store.write(name) as tx:
            assert tx.model is not None
            await tx.models.update(life="dying")
            if force:
                await tx.units.force_removal(force_deadline(no_wait=False))
        self.hub.changed()

    # --- charms ---------------------------------------------------------------------------

    async def upload_charm(self, data: bytes) -> CharmRecord:
        loaded = charms.load_charm_archive(data)
        record = await self.store.put_charm(
            sha256=charms.content_hash(data),
            name=loaded.meta.name,
            meta=loaded.meta.model_dump(mode="json", by_alias=True),
            config=loaded.config.model_dump(mode="json", by_alias=True),
            actions=loaded.actions.model_dump(mode="json", by_alias=True),
            data=data,
        )
        logger.info("charm stored", charm=record.name, sha256=record.sha256, size=record.size)
        return record

    # --- applications -----------------------------------------------------------------------

    async def deploy(self, model_name: str, request: api.DeployRequest) -> dict[str, int]:
        """Deploy an application; returns each new unit's machine, placed in the same
        transaction."""
        await self.check_substrates(model_name, request.to)
        async with self.store.write(model_name) as tx:
            placed = await deploy_in(tx, request)
        self.hub.changed()
        logger.info(
            "deployed", model=model_name, application=request.application, units=len(placed)
        )
        return placed

    async def add_units(
        self, model_name: str, application: str, request: api.AddUnitsRequest
    ) -> dict[str, int]:
        """Add units to an application; returns each new unit's machine."""
        await self.check_substrates(model_name, request.to)
        async with self.store.write(model_name) as tx:
            placed = await add_units_in(tx, application, request.num_units, request.to)
        self.hub.changed()
        return placed

    async def remove_units(
        self, model_name: str, names: Sequence[str], *, force: bool = False, no_wait: bool = False
    ) -> None:
        """Mark units dying: their agents run the teardown hooks, then they go away (with
        `force`, past failing hooks; see `force_deadline`)."""
        if not names:
            raise errors.InvalidSpecError("no units given")
        deadline = force_deadline(no_wait) if force else None
        async with self.store.write(model_name) as tx:
            await remove_units_in(tx, names, remove_after=deadline)
        self.hub.changed()

    async def scale(
        self,
        model_name: str,
        application: str,
        *,
        scale: int | None = None,
        change: int | None = None,
    ) -> Scaled:
        """Add units, or mark the highest-numbered alive ones dying, until the application
        has `scale` alive units (or `change` more or fewer); Juju's ScaleApplication."""
        async with self.store.write(model_name) as tx:
            scaled = await scale_in(tx, application, scale=scale, change=change)
        self.hub.changed()
        logger.info("scaled", model=model_name, application=application, scale=scaled.scale)
        return scaled

    async def remove_application(
        self, model_name: str, application: str, *, force: bool = False, no_wait: bool = False
    ) -> None:
        """Mark the application dying; its relations with others die with it (their units
        depart and leave scope), and it is deleted once no unit and no relation is left
        (with `force`, its units go past failing hooks; see `force_deadline`)."""
        deadline = force_deadline(no_wait) if force else None
        async with self.store.write(model_name) as tx:
            await remove_application_in(tx, application, remove_after=deadline)
        self.hub.changed()

    async def refresh(
        self,
        model_name: str,
        application: str,
        charm_sha256: str,
        origin: api.CharmOrigin | None = None,
    ) -> ApplicationRecord:
        """Move an application to another (uploaded) version of its charm.

        The charm's name must stay the same; every endpoint in use by a relation must still
        exist with the same role and interface; settings of options the new charm no longer
        has are dropped, and the rest must still fit their (possibly new) types. New peer
        endpoints get their peer relation. The revision moves by one, also for the same
        charm again (as Juju's `refresh --path` makes a new local revision). `origin`
        says where the new charm came from (none: a local charm).
        """
        async with self.store.write(model_name) as tx:
            updated = await refresh_in(tx, application, charm_sha256, origin)
        self.hub.changed()
        logger.info(
            "refreshed", model=model_name, application=application, revision=updated.charm_revision
        )
        return updated

    async def resolve(self, model_name: str, units: Sequence[str], *, retry: bool = True) -> None:
        """Mark units in error resolved: retry the failed hook now, or (`retry=False`)
        commit it as if it had succeeded."""
        if not units:
            raise errors.InvalidSpecError("no units given")
        async with self.store.write(model_name) as tx:
            records = []
            for name in units:
                _names.parse_unit_name(name)
                records.append(await tx.units.get(name))
            for unit in records:
                if "error" not in (unit.workload_status, unit.agent_status):
                    raise errors.ConflictError(f'unit "{unit.name}" is not in an error state')
            for unit in records:
                await tx.units.update(
                    unit,
                    resolved="retry" if retry else "no-retry",
                    resolved_seq=unit.resolved_seq + 1,
                )
        self.hub.changed()

    # --- model config ---------------------------------------------------------------------

    async def get_model_config(self, model_name: str) -> dict[str, Any]:
        """Juju's `model-config --format json`: `{key: {"Value": v, "Source": s}}`, the
        source `default`, `controller` (a model default) or `model`."""
        model = await self.store.model(model_name)
        current = {**DEFAULT_MODEL_CONFIG, **model.config}
        defaults = await self._model_defaults()

        def source(key: str, value: Any) -> str:
            if key in defaults and value == defaults[key]:
                return "controller"
            return "default" if value == DEFAULT_MODEL_CONFIG.get(key) else "model"

        return {
            key: {"Value": value, "Source": source(key, value)}
            for key, value in sorted(current.items())
        }

    async def set_model_config(
        self, model_name: str, values: Mapping[str, Any], reset: Sequence[str] = ()
    ) -> dict[str, Any]:
        for key in reset:
            if key not in DEFAULT_MODEL_CONFIG:
                raise errors.InvalidSpecError(f'unknown model config key "{key}"')
        checked = check_model_config(values)
        async with self.store.write(model_name) as tx:
            assert tx.model is not None
            config = {**DEFAULT_MODEL_CONFIG, **tx.model.config}
            for key in reset:
                config[key] = DEFAULT_MODEL_CONFIG[key]
            config.update(checked)
            if config != tx.model.config:
                await tx.models.update(config=config)
        self.hub.changed()
        return await self.get_model_config(model_name)

    async def set_config(
        self,
        model_name: str,
        application: str,
        values: Mapping[str, Any],
        reset: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Set and reset options; returns the user-set settings after the change."""
        async with self.store.write(model_name) as tx:
            settings = await set_config_in(tx, application, values, reset)
        self.hub.changed()
        return settings

    async def get_config(self, model_name: str, application: str) -> dict[str, Any]:
        """Juju's `config --format json` document for an application."""
        async with self.store.write(model_name) as tx:
            app = await tx.applications.get(application)
            charm = await tx.charms.get(app.charm_sha256)
        schema = charm_config(charm)
        settings: dict[str, Any] = {}
        for name, option in sorted(schema.options.items()):
            entry: dict[str, Any] = {
                "type": option.type,
                "description": option.description or "",
                "source": "user" if name in app.config else "default",
            }
            if option.default is not None:
                entry["default"] = option.default
            value = app.config.get(name, option.default)
            if value is not None:
                entry["value"] = value
            if name not in app.config and option.default is None:
                entry["source"] = "unset"
            settings[name] = entry
        return {
            "application": application,
            "charm": charm.name,
            "application-config": {
                "trust": {"value": False, "type": "bool", "source": "default"},
            },
            "settings": settings,
        }

    # --- helpers ----------------------------------------------------------------------------

    async def check_substrates(self, model_name: str, to: Sequence[str]) -> None:
        """Before anything is written: placement syntax, and that a substrate a placement
        names (`lxd`) fits the model and can make machines now (a k8s model takes none)."""
        if not to:
            return
        model = await self.store.model(model_name)
        if is_caas(model):
            check_caas_placement(model, to)
        substrates = {p.substrate for p in map(parse_placement, to) if p.substrate is not None}
        for substrate in sorted(substrates):
            if model.cloud not in CONTAINER_CLOUDS:
                raise errors.InvalidSpecError(
                    f'placement "{substrate}" makes a container on the controller\'s host: '
                    f'model "{model_name}" is on cloud "{model.cloud}", whose machines are not '
                    "on that host"
                )
            if self.substrate_ready is None:
                raise errors.InvalidSpecError(f'placement "{substrate}" is not available here')
            try:
                await self.substrate_ready(substrate)
            except errors.RunecraftError as exc:
                raise type(exc)(f"cannot place units on {substrate}: {exc.message}") from exc


# --- the transactional parts, composable in one transaction ------------------------------


def check_alive(tx: ModelState) -> None:
    assert tx.model is not None
    if tx.model.life != "alive":
        raise errors.ConflictError(f'model "{tx.model.name}" is being destroyed')


def check_config_size(application: str, settings: Mapping[str, Any]) -> None:
    """Refuse settings larger than the bus carries to the agents, naming the option."""
    sizes = {key: len(json.dumps({key: value}).encode()) for key, value in settings.items()}
    total = len(json.dumps(dict(settings)).encode())
    if total <= bus.MAX_CONFIG_BYTES:
        return
    largest = max(sizes, key=lambda key: sizes[key])
    limit = f"the limit of {bus.MAX_CONFIG_BYTES} bytes (what one bus message carries to agents)"
    if sizes[largest] > bus.MAX_CONFIG_BYTES:
        raise errors.InvalidSpecError(
            f'config option "{largest}" of application "{application}" takes '
            f"{sizes[largest]} bytes, more than {limit}"
        )
    raise errors.InvalidSpecError(
        f'config of application "{application}" takes {total} bytes, more than {limit}; '
        f'the largest option is "{largest}" ({sizes[largest]} bytes)'
    )


def coerce_config(charm: CharmRecord, values: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return charm_config(charm).coerce(values)
    except ValueError as exc:
        raise errors.InvalidSpecError(f"charm {charm.name}: {exc}") from exc


def _deploy_settings(request: api.DeployRequest) -> dict[str, Any]:
    """The application columns deploy sets from its flags (stored before the first
    machine is made, so it already has them)."""
    try:
        settings: dict[str, Any] = {"constraints": parse_constraints(request.constraints)}
        if request.base:
            check_base(request.base)
            settings["base"] = request.base
    except ValueError as exc:
        raise errors.InvalidSpecError(str(exc)) from exc
    if request.trust:
        settings["trust"] = True
    return settings | origin_columns(request.origin)


def origin_columns(origin: api.CharmOrigin | None) -> dict[str, Any]:
    """The application columns of a charm's origin (none given: a local charm)."""
    if origin is None:
        origin = api.CharmOrigin(source="local")
    return {
        "origin_source": origin.source,
        "origin_name": origin.name,
        "origin_channel": origin.channel,
        "origin_revision": origin.revision,
    }


async def refresh_in(
    tx: ModelState,
    application: str,
    charm_sha256: str,
    origin: api.CharmOrigin | None = None,
) -> ApplicationRecord:
    """`ModelService.refresh` in an open transaction (a bundle refreshes this way)."""
    check_alive(tx)
    app = await tx.applications.get(application)
    if app.life != "alive":
        raise errors.ConflictError(f'application "{application}" is being removed')
    old = await tx.charms.get(app.charm_sha256)
    new = await tx.charms.get(charm_sha256)
    if new.name != old.name:
        raise errors.ConflictError(
            f'cannot refresh "{application}" from charm "{old.name}" to "{new.name}": '
            "the charm name must stay the same"
        )
    meta = charm_schema.CharmMeta.model_validate(new.meta)
    offered = {e.endpoint: e for e in _endpoints.charm_endpoints(app.name, meta)}
    peers: list[str] = []
    for relation, endpoints in await tx.relations.all():
        for used in (e for e in endpoints if e.application == app.name):
            now = offered.get(used.endpoint)
            if now is None or (now.role, now.interface) != (used.role, used.interface):
                raise errors.ConflictError(
                    f'cannot refresh "{application}": relation "{relation.key}" uses '
                    f'endpoint "{used}" ({used.role} of interface "{used.interface}"), '
                    "which the new charm does not have"
                )
            if used.role == "peer":
                peers.append(used.endpoint)
    schema = charm_config(new)
    kept = {k: v for k, v in app.config.items() if k in schema.options}
    try:
        settings = schema.coerce(kept)
    except ValueError as exc:
        raise errors.InvalidSpecError(
            f'cannot refresh "{application}": charm {new.name}: {exc} (reset that setting first)'
        ) from exc
    await tx.applications.update(
        app,
        charm_sha256=new.sha256,
        charm_revision=app.charm_revision + 1,
        config=settings,
        **origin_columns(origin),
    )
    await add_peer_relations(tx, app, meta, skip=peers)
    return await tx.applications.get(application)


async def deploy_in(tx: ModelState, request: api.DeployRequest) -> dict[str, int]:
    """Deploy in `tx`: the application, its units each on its machine, storage, resources
    and peer relations. Returns unit -> machine number."""
    _names.check_application_name(request.application)
    settings = _deploy_settings(request)
    check_alive(tx)
    charm = await tx.charms.get(request.charm_sha256)
    if await tx.applications.find(request.application) is not None:
        raise errors.ConflictError(f'application "{request.application}" already exists')
    config_values = coerce_config(charm, request.config)
    check_config_size(request.application, config_values)
    meta = charm_schema.CharmMeta.model_validate(charm.meta)
    if is_caas(tx.model):
        assert tx.model is not None
        check_caas_deploy(tx.model, request.application, request.to, meta.subordinate)
    if meta.subordinate:
        check_subordinate_deploy(request)
    allocation = check_storage(meta, request.storage)
    machines = await place_units(tx, request.to, request.num_units)
    app = await tx.applications.insert(
        name=request.application, charm_sha256=charm.sha256, config=config_values, **settings
    )
    units = await tx.units.add(app, request.num_units, machines)
    await record_storage(tx, app, allocation, units, meta)
    await attach_at_deploy(tx, app, meta, request.resources)
    await add_peer_relations(tx, app, meta)
    return dict(zip(units, machines, strict=True))


def check_subordinate_deploy(request: api.DeployRequest) -> None:
    """A subordinate application has no units of its own (Juju's words): its units come
    with the principal units it is related to over a container-scoped relation."""
    if request.num_units != 0:
        raise errors.InvalidSpecError(
            f'cannot deploy "{request.application}": subordinate application must be deployed '
            f"without units (got {request.num_units}); integrate it with a principal "
            "application instead"
        )
    if request.to:
        raise errors.InvalidSpecError(
            f'cannot deploy "{request.application}": subordinate application must be deployed '
            f"without placement (--to {','.join(request.to)}): its units go where its "
            "principal's units are"
        )


async def add_units_in(
    tx: ModelState, application: str, num_units: int, to: Sequence[str] = ()
) -> dict[str, int]:
    """Add units in `tx`, each on its machine; returns unit -> machine number. On a k8s
    model each takes the lowest free pod ordinal as its number, on a machine of its own."""
    if num_units < 1:
        raise errors.InvalidSpecError(f"num-units must be 1 or more, got {num_units}")
    check_alive(tx)
    app = await tx.applications.get(application)
    if app.life != "alive":
        raise errors.ConflictError(f'application "{application}" is being removed')
    if (await tx.charms.get(app.charm_sha256)).meta.get("subordinate") is True:
        raise errors.InvalidSpecError(
            f'cannot directly add units to subordinate application "{application}": its '
            "units come with the principal units it is integrated with"
        )
    numbers = None
    if is_caas(tx.model):
        assert tx.model is not None
        existing = await tx.units.of_application(app)
        check_caas_placement(tx.model, to)
        check_caas_leaving(application, [u.name for u in existing if u.life != "alive"])
        numbers = pod_ordinals((u.number for u in existing), num_units)
    machines = await place_units(tx, to, num_units)
    units = await tx.units.add(app, num_units, machines, numbers)
    await attach_new_units(tx, app, units)
    return dict(zip(units, machines, strict=True))


FORCE_MAX_WAIT = 60.0
"""Seconds a unit removed with `--force` is given to tear down (its hooks run, failing ones
skipped) before the controller forgets it even if its agent never reported its removal:
Juju's default max-wait of a forced removal."""


def force_deadline(no_wait: bool) -> float:
    """When a unit removed with `--force` now is forgotten at the latest (`--no-wait`: at
    once, Juju's "rush through the removal")."""
    return time.time() + (0.0 if no_wait else FORCE_MAX_WAIT)


async def remove_units_in(
    tx: ModelState, names: Sequence[str], *, remove_after: float | None = None
) -> None:
    """Mark units dying in `tx`; every name is checked before any is marked (on a k8s
    model, that they are their application's highest-numbered alive units). With
    `remove_after` (`--force`), a failing hook no longer holds their removal (also of units
    already dying), and the controller forgets them then at the latest, as in Juju's
    `remove-unit --force`."""
    records = []
    for name in names:
        _names.parse_unit_name(name)
        records.append(await tx.units.get(name))
    for unit in records:
        if unit.principal is not None:
            raise errors.InvalidSpecError(
                f'unit "{unit.name}" is a subordinate (of "{unit.principal}"), to remove use '
                f'remove-relation. Note: this will remove all units of "{unit.application}"'
            )
    if is_caas(tx.model):
        for application in sorted({u.application for u in records}):
            app = await tx.applications.get(application)
            alive = [u.number for u in await tx.units.of_application(app) if u.life == "alive"]
            removing = {u.number for u in records if u.application_id == app.id}
            check_caas_removals(application, alive, removing & set(alive))
    for unit in records:
        values: dict[str, Any] = {"life": "dying"} if unit.life == "alive" else {}
        if remove_after is not None:
            values["force_removal"] = True
            if unit.remove_after is None or unit.remove_after > remove_after:
                values["remove_after"] = remove_after
        if values:
            await tx.units.update(unit, **values)


@dataclass(frozen=True)
class Scaled:
    """What a scale did: the alive units it leaves, the units added and those removed."""

    scale: int
    added: dict[str, int]
    removed: list[str]


async def scale_in(
    tx: ModelState, application: str, *, scale: int | None = None, change: int | None = None
) -> Scaled:
    """Bring the application to `scale` alive units (or `change` more or fewer) in `tx`:
    new units as `add_units_in` makes them, removals highest number first."""
    check_alive(tx)
    app = await tx.applications.get(application)
    if app.life != "alive":
        raise errors.ConflictError(f'application "{application}" is being removed')
    alive = [u.number for u in await tx.units.of_application(app) if u.life == "alive"]
    target = scale if scale is not None else len(alive) + (change or 0)
    if target < 0:
        raise errors.InvalidSpecError(
            f'cannot remove {-(change or 0)} units of "{application}": it has {len(alive)}'
        )
    add, remove = scale_plan(alive, target)
    added = await add_units_in(tx, application, add) if add else {}
    removed = [f"{application}/{number}" for number in remove]
    if removed:
        await remove_units_in(tx, removed)
    return Scaled(scale=target, added=added, removed=removed)


async def remove_application_in(
    tx: ModelState, application: str, *, remove_after: float | None = None
) -> None:
    """Mark an application dying in `tx`, with its relations (with `remove_after`, from
    `--force`, its units at once, as `remove_units_in` does: Juju's
    `remove-application --force`)."""
    app = await tx.applications.get(application)
    offered = [o.name for o in await tx.offers.offers(app.model_uuid) if o.application == app.name]
    if offered:
        raise errors.ConflictError(
            f'cannot remove application "{application}": it is offered as '
            f"{', '.join(repr(name) for name in offered)}; remove the offer first "
            "(remove-offer)"
        )
    if app.life == "alive":
        await tx.applications.update(app, life="dying")
        await tx.relations.kill_of(app.name)
    if remove_after is not None:
        await tx.units.force_removal(remove_after, app.id)


async def set_config_in(
    tx: ModelState, application: str, values: Mapping[str, Any], reset: Sequence[str] = ()
) -> dict[str, Any]:
    """Set and reset options in `tx`; returns the user-set settings after the change."""
    app = await tx.applications.get(application)
    charm = await tx.charms.get(app.charm_sha256)
    schema = charm_config(charm)
    for key in reset:
        if key not in schema.options:
            raise errors.InvalidSpecError(f'unknown option "{key}" for application "{application}"')
    coerced = coerce_config(charm, values)
    settings = {k: v for k, v in app.config.items() if k not in set(reset)}
    settings.update(coerced)
    check_config_size(application, settings)
    if settings != app.config:
        await tx.applications.update(app, config=settings)
    return settings
