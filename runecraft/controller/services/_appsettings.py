"""Deploy-time settings: an application's constraints, trust, base and exposure (Juju's
`deploy --constraints/--trust/--base`, `trust`, `set-constraints`, `expose`) and the
model's constraints (`set-model-constraints`)."""

from __future__ import annotations

from typing import Any, Protocol

from runecraft import errors
from runecraft.controller.services._ports import (
    StateStore,
    StoreService,
    WithApplications,
    WithModel,
    WithModels,
)
from runecraft.controller.state import ApplicationRecord
from runecraft.schemas.constraints import (
    ApplicationSettings,
    ModelConstraints,
    SetApplicationSettings,
    check_base,
    parse_constraints,
)

__all__ = ["SettingsService", "change_settings_in"]


class SettingsState(WithModel, WithApplications, WithModels, Protocol):
    """What changing deploy-time settings needs of a transaction."""


def _settings(app: ApplicationRecord) -> ApplicationSettings:
    return ApplicationSettings(
        application=app.name,
        constraints=app.constraints,
        trust=app.trust,
        base=app.base,
        exposed=app.exposed,
    )


async def change_settings_in(
    tx: SettingsState, application: str, request: SetApplicationSettings
) -> ApplicationRecord:
    """Change an application's constraints, trust or base in `tx`; returns it after."""
    values: dict[str, object] = {}
    try:
        if request.constraints is not None:
            values["constraints"] = parse_constraints(request.constraints)
        if request.base is not None:
            if request.base:
                check_base(request.base)
            values["base"] = request.base
    except ValueError as exc:
        raise errors.InvalidSpecError(str(exc)) from exc
    if request.trust is not None:
        values["trust"] = request.trust
    if request.exposed is not None:
        values["exposed"] = request.exposed
    app = await tx.applications.get(application)
    if not values:
        return app
    await tx.applications.update(app, **values)
    return await tx.applications.get(application)


class SettingsService(StoreService[StateStore[SettingsState]]):
    """Reads and changes the settings; bad values change nothing."""

    async def get(self, model_name: str, application: str) -> ApplicationSettings:
        async with self.store.write(model_name) as tx:
            return _settings(await tx.applications.get(application))

    async def change(
        self, model_name: str, application: str, request: SetApplicationSettings
    ) -> ApplicationSettings:
        async with self.store.write(model_name) as tx:
            app = await change_settings_in(tx, application, request)
        if request.model_dump(exclude_none=True):
            self.hub.changed()
        return _settings(app)

    async def model_constraints(self, model_name: str) -> dict[str, Any]:
        async with self.store.write(model_name) as tx:
            assert tx.model is not None
            return dict(tx.model.constraints)

    async def set_model_constraints(
        self, model_name: str, request: ModelConstraints
    ) -> dict[str, Any]:
        try:
            constraints = parse_constraints(request.constraints)
        except ValueError as exc:
            raise errors.InvalidSpecError(str(exc)) from exc
        async with self.store.write(model_name) as tx:
            await tx.models.update(constraints=constraints)
        self.hub.changed()
        return constraints
