"""The operations users ask for: each validates everything first, then writes once.

A request either changes the model in one transaction or raises a `RunecraftError` naming
what is wrong and changes nothing.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import structlog

from runecraft import charms, errors
from runecraft.controller.providers import provider_names
from runecraft.controller.services import _endpoints, _names
from runecraft.controller.services._hub import ChangeHub
from runecraft.controller.services._machines import place_on_enlisted
from runecraft.controller.services._placement import parse_placement
from runecraft.controller.services._relations import add_peer_relations
from runecraft.controller.services._resources import attach_at_deploy
from runecraft.controller.services._storage import (
    attach_new_units,
    check_storage,
    record_storage,
)
from runecraft.controller.state import (
    ApplicationRecord,
    CharmRecord,
    ModelRecord,
    Store,
    Tx,
)
from runecraft.schemas import charm as charm_schema
from runecraft.schemas.constraints import check_base, parse_constraints
from runecraft.schemas.duration import parse_duration
from runecraft.schemas.machines import CONTAINER_CLOUDS

__all__ = ["DEFAULT_MODEL_CONFIG", "ModelService"]

logger = structlog.get_logger(__name__)

DEFAULT_MODEL_CONFIG: dict[str, Any] = {
    "update-status-hook-interval": "5m",
    "automatically-retry-hooks": True,
    # Runecraft's own: ops hooks fork from a process with ops imported (agents/_forkserver).
    "hook-fork-server": True,
}


def charm_config(record: CharmRecord) -> charm_schema.CharmConfig:
    """The stored config.yaml of a charm as a schema object."""
    return charm_schema.CharmConfig.model_validate(record.config)


def check_model_config(values: Mapping[str, Any]) -> dict[str, Any]:
    """Type-check model config: unknown keys and bad values name the key."""
    checked: dict[str, Any] = {}
    for key, value in values.items():
        if key not in DEFAULT_MODEL_CONFIG:
            known = ", ".join(sorted(DEFAULT_MODEL_CONFIG))
            raise errors.InvalidSpecError(f'unknown model config key "{key}" (known keys: {known})')
        try:
            if key in ("automatically-retry-hooks", "hook-fork-server"):
                checked[key] = charm_schema.coerce_option_value("boolean", value)
                if checked[key] is None:
                    raise ValueError("expected true or false")
            else:
                if not isinstance(value, str | int | float) or isinstance(value, bool):
                    raise ValueError(f"expected a duration such as 5m, got {value!r}")
                if parse_duration(value) <= 0:
                    raise ValueError("must be more than zero")
                checked[key] = value if isinstance(value, str) else f"{value}s"
        except ValueError as exc:
            raise errors.InvalidSpecError(f'model config "{key}": {exc}') from exc
    return checked


class ModelService:
    """Models, charms, applications, units and config."""

    def __init__(
        self,
        store: Store,
        hub: ChangeHub,
        substrate_ready: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.hub = hub
        self.substrate_ready = substrate_ready
        """Raises when a substrate named by a placement (`lxd`) cannot make machines now."""

    # --- models ---------------------------------------------------------------------------

    async def add_model(
        self, name: str, cloud: str = "local", config: Mapping[str, Any] | None = None
    ) -> ModelRecord:
        _names.check_model_name(name)
        if cloud not in provider_names():
            known = ", ".join(provider_names())
            raise errors.InvalidSpecError(f'unknown cloud "{cloud}": known clouds are: {known}')
        merged = {**DEFAULT_MODEL_CONFIG, **check_model_config(config or {})}
        model = await self.store.create_model(name, str(uuidlib.uuid4()), cloud, merged)
        self.hub.changed()
        logger.info("model added", model=name, uuid=model.uuid)
        return model

    async def destroy_model(self, name: str) -> None:
        """Mark every unit and machine of the model dying; reconcilers remove them and then
        the model itself."""
        async with self.store.write(name) as tx:
            assert tx.model is not None
            await tx.update_model(life="dying")
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

    async def deploy(
        self,
        model_name: str,
        *,
        application: str,
        charm_sha256: str,
        num_units: int = 1,
        config: Mapping[str, Any] | None = None,
        to: Sequence[str] = (),
        storage: Mapping[str, str] | None = None,
        resources: Mapping[str, str] | None = None,
        constraints: Sequence[str] = (),
        base: str = "",
        trust: bool = False,
    ) -> list[str]:
        _names.check_application_name(application)
        if num_units < 0:
            raise errors.InvalidSpecError(f"num-units must be 0 or more, got {num_units}")
        try:  # in the deploy's transaction, so the first machine already has them
            settings: dict[str, Any] = {"constraints": parse_constraints(constraints)}
            if base:
                check_base(base)
                settings["base"] = base
        except ValueError as exc:
            raise errors.InvalidSpecError(str(exc)) from exc
        if trust:
            settings["trust"] = True
        await self._check_substrates(model_name, to)
        async with self.store.write(model_name) as tx:
            self._check_alive(tx)
            charm = await tx.charm(charm_sha256)
            if await tx.find_application(application) is not None:
                raise errors.ConflictError(f'application "{application}" already exists')
            config_values = self._coerce(charm, config or {})
            placements = await self._placements(tx, to, num_units)
            meta = charm_schema.CharmMeta.model_validate(charm.meta)
            allocation = check_storage(meta, storage or {})
            app = await tx.insert_application(
                name=application, charm_sha256=charm.sha256, config=config_values, **settings
            )
            units = await tx.add_units(app, num_units, placements)
            await record_storage(tx, app, allocation, units, meta)
            await attach_at_deploy(tx, app, meta, resources or {})
            await add_peer_relations(tx, app, meta)
        self.hub.changed()
        logger.info("deployed", model=model_name, application=application, units=len(units))
        return units

    async def add_units(
        self, model_name: str, application: str, num_units: int, to: Sequence[str] = ()
    ) -> list[str]:
        if num_units < 1:
            raise errors.InvalidSpecError(f"num-units must be 1 or more, got {num_units}")
        await self._check_substrates(model_name, to)
        async with self.store.write(model_name) as tx:
            self._check_alive(tx)
            app = await tx.application(application)
            if app.life != "alive":
                raise errors.ConflictError(f'application "{application}" is being removed')
            placements = await self._placements(tx, to, num_units)
            units = await tx.add_units(app, num_units, placements)
            await attach_new_units(tx, app, units)
        self.hub.changed()
        return units

    async def remove_units(self, model_name: str, names: Sequence[str]) -> None:
        """Mark units dying: their agents run the teardown hooks, then they go away."""
        if not names:
            raise errors.InvalidSpecError("no units given")
        async with self.store.write(model_name) as tx:
            records = []
            for name in names:
                _names.parse_unit_name(name)
                records.append(await tx.unit(name))
            for unit in records:
                if unit.life == "alive":
                    await tx.update_unit(unit, life="dying")
        self.hub.changed()

    async def remove_application(self, model_name: str, application: str) -> None:
        """Mark the application dying; its relations with others die with it (their units
        depart and leave scope), and it is deleted once no unit and no relation is left."""
        async with self.store.write(model_name) as tx:
            app = await tx.application(application)
            if app.life == "alive":
                await tx.update_application(app, life="dying")
                await tx.kill_relations_of(app.name)
        self.hub.changed()

    async def refresh(
        self, model_name: str, application: str, charm_sha256: str
    ) -> ApplicationRecord:
        """Move an application to another (uploaded) version of its charm.

        The charm's name must stay the same; every endpoint in use by a relation must still
        exist with the same role and interface; settings of options the new charm no longer
        has are dropped, and the rest must still fit their (possibly new) types. New peer
        endpoints get their peer relation. The revision moves by one.
        """
        async with self.store.write(model_name) as tx:
            self._check_alive(tx)
            app = await tx.application(application)
            if app.life != "alive":
                raise errors.ConflictError(f'application "{application}" is being removed')
            old = await tx.charm(app.charm_sha256)
            new = await tx.charm(charm_sha256)
            if new.sha256 == old.sha256:
                raise errors.ConflictError(
                    f'application "{application}" already runs this charm '
                    f"(revision {app.charm_revision})"
                )
            if new.name != old.name:
                raise errors.ConflictError(
                    f'cannot refresh "{application}" from charm "{old.name}" to "{new.name}": '
                    "the charm name must stay the same"
                )
            meta = charm_schema.CharmMeta.model_validate(new.meta)
            offered = {e.endpoint: e for e in _endpoints.charm_endpoints(app.name, meta)}
            peers: list[str] = []
            for relation, endpoints in await tx.model_relations():
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
                    f'cannot refresh "{application}": charm {new.name}: {exc} '
                    "(reset that setting first)"
                ) from exc
            await tx.update_application(
                app,
                charm_sha256=new.sha256,
                charm_revision=app.charm_revision + 1,
                config=settings,
            )
            await add_peer_relations(tx, app, meta, skip=peers)
            updated = await tx.application(application)
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
                records.append(await tx.unit(name))
            for unit in records:
                if "error" not in (unit.workload_status, unit.agent_status):
                    raise errors.ConflictError(f'unit "{unit.name}" is not in an error state')
            for unit in records:
                await tx.update_unit(
                    unit,
                    resolved="retry" if retry else "no-retry",
                    resolved_seq=unit.resolved_seq + 1,
                )
        self.hub.changed()

    # --- model config ---------------------------------------------------------------------

    async def get_model_config(self, model_name: str) -> dict[str, Any]:
        """Juju's `model-config --format json`: `{key: {"Value": v, "Source": s}}`."""
        model = await self.store.model(model_name)
        current = {**DEFAULT_MODEL_CONFIG, **model.config}
        return {
            key: {
                "Value": value,
                "Source": "default" if value == DEFAULT_MODEL_CONFIG.get(key) else "model",
            }
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
                await tx.update_model(config=config)
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
            app = await tx.application(application)
            charm = await tx.charm(app.charm_sha256)
            schema = charm_config(charm)
            for key in reset:
                if key not in schema.options:
                    raise errors.InvalidSpecError(
                        f'unknown option "{key}" for application "{application}"'
                    )
            coerced = self._coerce(charm, values)
            settings = {k: v for k, v in app.config.items() if k not in set(reset)}
            settings.update(coerced)
            if settings != app.config:
                await tx.update_application(app, config=settings)
        self.hub.changed()
        return settings

    async def get_config(self, model_name: str, application: str) -> dict[str, Any]:
        """Juju's `config --format json` document for an application."""
        async with self.store.write(model_name) as tx:
            app = await tx.application(application)
            charm = await tx.charm(app.charm_sha256)
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

    @staticmethod
    def _check_alive(tx: Tx) -> None:
        assert tx.model is not None
        if tx.model.life != "alive":
            raise errors.ConflictError(f'model "{tx.model.name}" is being destroyed')

    @staticmethod
    def _coerce(charm: CharmRecord, values: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return charm_config(charm).coerce(values)
        except ValueError as exc:
            raise errors.InvalidSpecError(f"charm {charm.name}: {exc}") from exc

    async def _check_substrates(self, model_name: str, to: Sequence[str]) -> None:
        """Before anything is written: placement syntax, and that a substrate a placement
        names (`lxd`) fits the model and can make machines now."""
        substrates = {p.substrate for p in map(parse_placement, to) if p.substrate is not None}
        if not substrates:
            return
        model = await self.store.model(model_name)
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

    @staticmethod
    async def _placements(tx: Tx, to: Sequence[str], count: int) -> list[int | None]:
        """Resolve `--to` directives: an existing machine number, `new`, or a new LXD
        container (`lxd`, or `lxd:N` beside existing machine N)."""
        if len(to) > count:
            raise errors.InvalidSpecError(
                f"{len(to)} placement directives given for {count} unit(s)"
            )
        result: list[int | None] = []
        for directive in to:
            placement = parse_placement(directive)
            if placement.machine is not None:
                try:
                    machine = await tx.machine(placement.machine)
                except errors.NotFoundError as exc:
                    raise errors.NotFoundError(
                        f'invalid placement "{directive}": {exc.message}'
                    ) from exc
                if machine.life != "alive":
                    raise errors.ConflictError(f'machine "{machine.number}" is being removed')
            if placement.substrate is not None:
                made = await tx.insert_machine(substrate=placement.substrate)
                result.append(made.number)
            else:
                result.append(placement.machine)
        if tx.model is not None and tx.model.cloud == "manual":
            return list(await place_on_enlisted(tx, result, count))
        return result
