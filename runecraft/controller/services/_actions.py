"""Actions: queue them on units (parameters checked first), read and await their results."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import structlog

from runecraft import errors
from runecraft.controller.services import _names, _params
from runecraft.controller.services._ports import (
    ModelReads,
    StateStore,
    StoreService,
    WithActions,
    WithApplications,
    WithCharms,
    WithUnits,
)
from runecraft.controller.state import ActionRecord, UnitRecord
from runecraft.schemas import charm as charm_schema
from runecraft.schemas import exec as exec_schema

__all__ = ["ActionService"]

logger = structlog.get_logger(__name__)


class ActionState(WithUnits, WithApplications, WithCharms, WithActions, Protocol):
    """What queueing actions needs of a transaction."""


class ActionStore(StateStore[ActionState], ModelReads, Protocol):
    async def action(self, model_uuid: str, action_id: int) -> ActionRecord | None: ...


class ActionService(StoreService[ActionStore]):
    """`rune run` and `rune show-task`."""

    async def run(
        self,
        model_name: str,
        units: Sequence[str],
        action: str,
        params: Mapping[str, Any] | None = None,
    ) -> list[ActionRecord]:
        """Queue `action` on each unit (`app/leader` means the application's leader).

        Every unit and the parameters are checked before anything is queued; the actions
        are queued in one transaction, with defaults filled in.
        """
        if not units:
            raise errors.InvalidSpecError("no units given")
        if not charm_schema.ACTION_NAME_RE.match(action):
            raise errors.InvalidSpecError(
                f"invalid action name {action!r}: use lowercase letters, digits and hyphens"
            )
        given = dict(params or {})
        if action == exec_schema.JUJU_EXEC:
            given = exec_schema.ExecParams.parse(given).model_dump()
            units = await self._exec_targets(model_name, units)
        async with self.store.write(model_name) as tx:
            targets: list[tuple[str, dict[str, Any]]] = []
            for name in units:
                unit = await _task_target(tx, name)
                if unit.life != "alive":
                    raise errors.ConflictError(f'unit "{unit.name}" is being removed')
                if action == exec_schema.JUJU_EXEC:
                    targets.append((unit.name, given))
                    continue
                app = await tx.applications.get(unit.application)
                charm = await tx.charms.get(app.charm_sha256)
                spec = charm_schema.CharmActions.model_validate(charm.actions).actions.get(action)
                if spec is None:
                    raise errors.TaskTargetNotFoundError(
                        f'action "{action}" not defined on unit "{unit.name}"'
                    )
                checked = _params.validate_params(spec, given, action=action, unit=unit.name)
                targets.append((unit.name, checked))
            records = [await tx.actions.insert(unit, action, p) for unit, p in targets]
        self.hub.changed()
        logger.info("actions queued", model=model_name, action=action, ids=[r.id for r in records])
        return records

    async def _exec_targets(self, model_name: str, names: Sequence[str]) -> list[str]:
        """`juju exec --application A`: a bare application name means all its units."""
        model = await self.store.model(model_name)
        snapshot = await self.store.snapshot(model.uuid)
        targets: list[str] = []
        for name in names:
            if "/" in name:
                targets.append(name)
                continue
            _names.check_application_name(name)
            if not any(app.name == name for app in snapshot.applications):
                raise errors.TaskTargetNotFoundError(f'application "{name}" not found')
            members = sorted(
                (u for u in snapshot.units if u.application == name and u.life == "alive"),
                key=lambda u: int(u.name.rpartition("/")[2]),
            )
            if not members:
                raise errors.TaskTargetNotFoundError(f'application "{name}" has no units')
            targets.extend(u.name for u in members)
        return list(dict.fromkeys(targets))

    async def charm_actions(self, model_name: str, application: str) -> dict[str, Any]:
        """Juju's `actions --schema`: each action of the application's charm as the JSON
        schema its parameters are checked against (title: the action's name)."""
        async with self.store.write(model_name) as tx:
            _names.check_application_name(application)
            app = await tx.applications.get(application)
            charm = await tx.charms.get(app.charm_sha256)
        actions = charm_schema.CharmActions.model_validate(charm.actions).root
        schemas = {}
        for name, spec in sorted(actions.items()):
            schema = spec.json_schema()
            schema["title"] = spec.title or name
            schemas[name] = schema
        return schemas

    async def get(self, model_name: str, action_id: str) -> ActionRecord:
        model = await self.store.model(model_name)
        record = (
            await self.store.action(model.uuid, int(action_id)) if action_id.isdigit() else None
        )
        if record is None:
            raise errors.NotFoundError(f'task "{action_id}" not found in model "{model_name}"')
        return record

    async def wait(self, model_name: str, action_id: str, timeout: float) -> ActionRecord:
        """The action once it finished, or as it is when `timeout` seconds have passed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        while True:
            version = self.hub.version
            record = await self.get(model_name, action_id)
            remaining = deadline - loop.time()
            if record.finished or remaining <= 0:
                return record
            await self.hub.wait_after(version, remaining)


async def _task_target(tx: ActionState, name: str) -> UnitRecord:
    """The unit `name` names; a unit or application that does not exist is the task's
    missing target, not a missing model."""
    try:
        return await _target(tx, name)
    except errors.TaskTargetNotFoundError:
        raise
    except errors.NotFoundError as exc:
        raise errors.TaskTargetNotFoundError(exc.message) from exc


async def _target(tx: ActionState, name: str) -> UnitRecord:
    application, _, rest = name.partition("/")
    if rest == "leader":
        _names.check_application_name(application)
        app = await tx.applications.get(application)
        if app.leader is None:
            raise errors.NotFoundError(f'could not determine leader for "{application}"')
        return await tx.units.get(app.leader)
    _names.parse_unit_name(name)
    return await tx.units.get(name)
