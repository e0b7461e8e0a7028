"""Bundles applied by the controller: read the bundle, plan it against the model and make
every change in ONE transaction, so a bundle is applied whole or not at all.

The client merges overlays, finds charms on its disk and uploads them (content-addressed,
so uploads are idempotent and stay outside the transaction); the request carries the merged
bundle and, per application, the charm the client found. Applications it found nothing for
take their charm by name (and revision) from the controller's own charm store, so a bundle
exported from one model applies to another with no charm on the client's disk.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from runecraft import bundles, errors
from runecraft.controller.services import _service
from runecraft.controller.services._appsettings import change_settings_in
from runecraft.controller.services._hub import ChangeHub
from runecraft.controller.services._offers import consume_in, offer_in
from runecraft.controller.services._ports import ModelReads, StateStore
from runecraft.controller.services._relations import integrate_in, remove_relation_in
from runecraft.controller.state import CharmRecord, ModelRecord, ModelSnapshot
from runecraft.schemas import api
from runecraft.schemas import bundle as schema
from runecraft.schemas import charm as charm_schema
from runecraft.schemas import storage as storage_schema
from runecraft.schemas.constraints import SetApplicationSettings, format_constraints
from runecraft.schemas.machines import CONTAINER_CLOUDS

__all__ = ["BundleOutcome", "BundleService", "apply_bundle_in", "export_bundle", "view_of"]

logger = structlog.get_logger(__name__)


class BundleState(_service.ModelState, Protocol):
    """What planning and applying a bundle needs of a transaction: the model's operations
    and the model read whole (the charm store by name among them)."""

    async def snapshot(self) -> ModelSnapshot: ...

    async def model_named(self, name: str) -> ModelRecord: ...


class BundleStore(StateStore[BundleState], ModelReads, Protocol):
    pass


@dataclass(frozen=True)
class BundleOutcome:
    """What a bundle request did: the plan, the model it was made against, and (applied)
    each added unit's machine."""

    plan: bundles.Plan
    view: bundles.ModelView
    applied: bool
    machines: dict[str, int] = field(default_factory=dict)


class BundleService:
    """`rune plan`, `rune apply` and `export-bundle`, on the controller."""

    def __init__(
        self,
        store: BundleStore,
        hub: ChangeHub,
        check_substrates: Callable[[str, Sequence[str]], Awaitable[None]],
    ) -> None:
        self.store = store
        self.hub = hub
        self.check_substrates = check_substrates
        """Raises when a substrate a placement names (`lxd`) cannot make machines now."""

    async def apply(self, model_name: str, request: api.BundleRequest) -> BundleOutcome:
        """Plan the bundle (`dry_run`), or plan and apply it in one transaction."""
        bundle = read_bundle(request.bundle)
        if not request.dry_run:
            await self._check_substrates(model_name, bundle)
        async with self.store.write(model_name) as tx:
            outcome = await apply_bundle_in(tx, bundle, request)
        if outcome.applied:
            self.hub.changed()
            logger.info(
                "bundle applied",
                model=model_name,
                changes=len(outcome.plan.changes),
                units=len(outcome.machines),
            )
        return outcome

    def consumed_offers(self, request: api.BundleRequest) -> list[str]:
        """The URLs of the offers the bundle consumes (`saas:`): applying it needs consume
        access to each, as `consume` does."""
        bundle = read_bundle(request.bundle)
        return sorted({saas.url for saas in bundle.saas.values()})

    async def export(self, model_name: str) -> schema.Bundle:
        model = await self.store.model(model_name)
        return export_bundle(model, await self.store.snapshot(model.uuid))

    async def _check_substrates(self, model_name: str, bundle: schema.Bundle) -> None:
        """Before the transaction: can the substrates of the bundle's containers make
        machines now? (On a cloud without them the plan refuses the placements.)"""
        containers = {
            p.container
            for spec in bundle.applications.values()
            for p in spec.unit_placements()
            if p.container is not None
        }
        if "lxd" not in containers:
            return
        model = await self.store.model(model_name)
        if model.cloud in CONTAINER_CLOUDS:
            await self.check_substrates(model_name, ["lxd"])


def read_bundle(text: str) -> schema.Bundle:
    """The bundle of a request, checked again here: every problem in one error."""
    try:
        return schema.loads(text, name="bundle")
    except schema.BundleError as exc:
        raise errors.InvalidSpecError(str(exc)) from exc


async def apply_bundle_in(
    tx: BundleState, bundle: schema.Bundle, request: api.BundleRequest
) -> BundleOutcome:
    """Plan `bundle` against the transaction's model and (unless a dry run) make every
    change in `tx`; any error leaves the transaction to be rolled back whole."""
    assert tx.model is not None
    if not request.dry_run and request.expect_revision not in (None, tx.model.revision):
        raise errors.ConflictError(
            f"model {tx.model.name} is at revision {tx.model.revision}, not "
            f"{request.expect_revision}: it changed since the plan; plan again"
        )
    view = view_of(tx.model, await tx.snapshot())
    problems = bundles.substrate_problems(bundle, view)
    if problems:
        raise errors.InvalidSpecError(
            "the bundle does not fit the model, nothing was changed:\n"
            + "\n".join(f"  {problem}" for problem in problems)
        )
    records = await _resolve_charms(tx, bundle, request.charms)
    resolved = {app: charm for app, (charm, _) in records.items()}
    plan = bundles.plan(bundle, view, prune=request.prune, charms=resolved)
    if request.dry_run:
        return BundleOutcome(plan=plan, view=view, applied=False)
    origins = {app: c.origin for app, c in request.charms.items() if c.origin is not None}
    _refuse(plan, {app: record for app, (_, record) in records.items()}, origins)
    applier = _Applier(tx, plan, view, {app: c.sha256 for app, c in resolved.items()}, origins)
    await applier.run()
    return BundleOutcome(plan=plan, view=view, applied=bool(plan.changes), machines=applier.placed)


def export_bundle(model: ModelRecord, snapshot: ModelSnapshot) -> schema.Bundle:
    """The model as a bundle (applying it to an empty model and exporting again gives the
    same bundle)."""
    return bundles.export(view_of(model, snapshot))


# --- the model as the planner sees it ----------------------------------------------------


def view_of(model: ModelRecord, snapshot: ModelSnapshot) -> bundles.ModelView:
    """The planner's view of a model, from its rows: alive units with their machines,
    the options the operator set, constraints, trust, and the non-peer alive relations."""
    substrate = {m.number: m.substrate for m in snapshot.machines}
    applications: dict[str, bundles.ApplicationView] = {}
    for app in snapshot.applications:
        charm = snapshot.charms[app.charm_sha256]
        options = _service.charm_config(charm).options
        units = tuple(
            bundles.UnitView(
                name=u.name,
                machine=None if u.machine_number is None else str(u.machine_number),
                container=substrate.get(u.machine_number) if u.machine_number is not None else None,
            )
            for u in snapshot.units
            # Subordinate units are placed by their relations, not by the bundle.
            if u.application_id == app.id and u.life == "alive" and u.principal is None
        )
        charmhub = app.origin_source == "charmhub"
        applications[app.name] = bundles.ApplicationView(
            charm=charm.name,
            channel=app.origin_channel if charmhub else None,
            revision=app.origin_revision if charmhub else None,
            config={k: v for k, v in app.config.items() if k in options and v is not None},
            constraints=dict(app.constraints),
            trust=app.trust,
            units=units,
            offers={
                o.name: tuple(o.endpoints) for o in snapshot.offers if o.application == app.name
            },
            dying=app.life != "alive",
        )
    ends: dict[int, list[tuple[str, str]]] = {}
    for endpoint in snapshot.endpoints:
        ends.setdefault(endpoint.relation_id, []).append((endpoint.application, endpoint.endpoint))
    relations = {
        bundles.RelationView.between(*ends[r.id])
        for r in snapshot.relations
        if r.life == "alive" and len(ends.get(r.id, ())) == 2
    }
    return bundles.ModelView(
        name=model.name,
        revision=model.revision,
        cloud=model.cloud,
        type=model.type,
        applications=applications,
        machines=tuple(str(n) for n in sorted(m.number for m in snapshot.machines)),
        relations=tuple(sorted(relations, key=lambda r: r.endpoints)),
        saas={s.name: s.url for s in snapshot.saas},
    )


# --- charms ------------------------------------------------------------------------------


async def _resolve_charms(
    tx: BundleState, bundle: schema.Bundle, given: Mapping[str, api.BundleCharm]
) -> dict[str, tuple[bundles.ResolvedCharm, CharmRecord | None]]:
    """Per application, its charm: the one the client found on disk (the record once
    uploaded), else the controller's by name and revision. Applications with neither are
    left out (the plan says their charm has to be fetched)."""
    found: dict[str, tuple[bundles.ResolvedCharm, CharmRecord | None]] = {}
    for name, spec in sorted(bundle.applications.items()):
        if name in given:
            charm = given[name]
            record = None if charm.sha256 is None else await _uploaded(tx, charm.sha256)
            found[name] = (
                bundles.ResolvedCharm(
                    name=charm.name if record is None else record.name,
                    path=charm.path,
                    sha256=charm.sha256,
                    charmhub=charm.origin is not None and charm.origin.source == "charmhub",
                ),
                record,
            )
            continue
        ref = spec.charm_ref
        if ref.source == "path":
            continue
        stored = await tx.charms.named(ref.name)
        revision = spec.revision if spec.revision is not None else ref.revision
        if revision is not None:
            stored = stored[revision - 1 : revision] if revision >= 1 else []
        if stored:
            record = stored[-1]
            found[name] = (bundles.ResolvedCharm(name=record.name, sha256=record.sha256), record)
    return found


async def _uploaded(tx: BundleState, sha256: str) -> CharmRecord | None:
    """The charm the client said it uploaded; None (refused by `_refuse`, naming the
    application) when the controller does not hold it."""
    try:
        return await tx.charms.get(sha256)
    except errors.NotFoundError:
        return None


def _refuse(
    plan: bundles.Plan,
    records: Mapping[str, CharmRecord | None],
    origins: Mapping[str, api.CharmOrigin],
) -> None:
    """Refuse, before any write, a plan with a change the model cannot take, a deploy its
    charm would refuse or a refresh whose charm was not fetched; every reason in one error."""
    reasons = [r for c in plan.changes if (r := bundles.unsupported(c, plan.cloud)) is not None]
    for change in plan.changes:
        if isinstance(change, bundles.RefreshCharm) and (
            records.get(change.application) is None or change.application not in origins
        ):
            reasons.append(
                f"applications.{change.application}: its charm {change.charm} was not fetched "
                "from Charmhub for the refresh (the CLI fetches it: rune apply)"
            )
        if isinstance(change, bundles.AddApplication) and change.application in records:
            record = records[change.application]
            if record is None:
                reasons.append(
                    f"applications.{change.application}: its charm {change.charm} was not uploaded"
                )
            else:
                reasons += _deploy_problems(change, record)
    if reasons:
        raise errors.InvalidSpecError(
            "cannot apply the bundle, nothing was changed:\n"
            + "\n".join(f"  {reason}" for reason in dict.fromkeys(reasons))
        )


def _deploy_problems(change: bundles.AddApplication, charm: CharmRecord) -> list[str]:
    """What a deploy of this application would refuse, named by its place in the bundle."""
    problems = []
    where = f"applications.{change.application}"
    try:
        _service.charm_config(charm).coerce(change.options)
    except ValueError as exc:
        problems.append(f"{where}.options: {exc}")
    meta = charm_schema.CharmMeta.model_validate(charm.meta)
    for name, directive in sorted(change.storage.items()):
        if name not in meta.storage:
            problems.append(f'{where}.storage.{name}: charm "{charm.name}" has no such storage')
            continue
        try:
            storage_schema.parse_directive(f"{name}={directive}")
        except errors.RunecraftError as exc:
            problems.append(f"{where}.storage.{name}: {exc.message}")
    return problems


# --- applying ----------------------------------------------------------------------------


class _Applier:
    """Runs a plan's changes in one transaction, placing each unit as it is added."""

    def __init__(
        self,
        tx: BundleState,
        plan: bundles.Plan,
        view: bundles.ModelView,
        charms: Mapping[str, str | None],
        origins: Mapping[str, api.CharmOrigin] | None = None,
    ) -> None:
        self.tx = tx
        self.plan = plan
        self.charms = charms
        self.origins = origins or {}
        """Application -> where its charm came from (Charmhub), as the client fetched it."""
        self.placed: dict[str, int] = {}
        """Units added -> their machine."""
        self.machines: dict[str, int] = {}
        """Bundle machine -> the model machine its first unit made."""
        self.units: dict[str, list[tuple[int, int | None]]] = {
            name: [
                (u.number, None if u.machine is None else int(u.machine))
                for u in app.sorted_units()
            ]
            for name, app in view.applications.items()
        }
        """Application -> its alive units (number, machine), in number order."""

    async def run(self) -> None:
        total = len(self.plan.changes)
        for index, change in enumerate(self.plan.changes, 1):
            try:
                await self._one(change)
            except errors.RunecraftError as exc:
                raise type(exc)(
                    f"applying the bundle failed at change {index} of {total}: "
                    f"{bundles.describe(change)}: {exc.message}\n"
                    "nothing was changed: apply the bundle again once the cause is fixed"
                ) from exc

    async def _one(self, change: bundles.Change) -> None:
        tx = self.tx
        match change:
            case bundles.AddCharm() | bundles.AddMachine():
                pass  # charms are uploaded already; a machine is made by its first unit
            case bundles.AddApplication():
                sha256 = self.charms[change.application]
                assert sha256 is not None
                origin = self.origins.get(change.application)
                await _service.deploy_in(tx, _deploy_request(change, sha256, origin))
                self.units[change.application] = []
            case bundles.RefreshCharm():
                sha256 = self.charms[change.application]
                assert sha256 is not None
                origin = self.origins[change.application]
                await _service.refresh_in(tx, change.application, sha256, origin)
            case bundles.SetConstraints():
                constraints = format_constraints(change.constraints)
                await change_settings_in(
                    tx,
                    change.application,
                    SetApplicationSettings(constraints=[constraints] if constraints else []),
                )
            case bundles.SetTrust():
                await change_settings_in(
                    tx, change.application, SetApplicationSettings(trust=change.trust)
                )
            case bundles.SetConfig():
                await _service.set_config_in(tx, change.application, change.values, change.reset)
            case bundles.AddUnit():
                await self._add_unit(change)
            case bundles.RemoveUnit():
                await _service.remove_units_in(tx, [change.unit])
            case bundles.AddRelation():
                await integrate_in(tx, *change.endpoints)
            case bundles.RemoveRelation():
                await remove_relation_in(tx, change.endpoints)
            case bundles.RemoveApplication():
                await _service.remove_application_in(tx, change.application)
            case bundles.Consume():
                await consume_in(tx, change.url, change.saas)
            case bundles.AddOffer():
                await offer_in(tx, change.application, change.endpoints, change.offer)
            case _:  # refused before the first change
                raise errors.InvalidSpecError(
                    bundles.unsupported(change, self.plan.cloud)
                    or "this change is not supported yet"
                )

    async def _add_unit(self, change: bundles.AddUnit) -> None:
        placed = await _service.add_units_in(self.tx, change.application, 1, self._target(change))
        ((unit, machine),) = placed.items()
        self.placed[unit] = machine
        self.units[change.application].append((int(unit.rpartition("/")[2]), machine))
        if change.machine is not None and change.container is None:
            self.machines.setdefault(change.machine, machine)

    def _target(self, change: bundles.AddUnit) -> list[str]:
        """The `--to` of one unit: every machine it names is known in the transaction."""
        host: int | str | None = change.model_machine
        if host is None and change.machine is not None:
            host = self.machines.get(change.machine)
        if change.colocate is not None:
            app, _, index = change.colocate.partition("/")
            units = self.units.get(app, [])
            if int(index) >= len(units):
                raise errors.NotFoundError(
                    f"cannot place next to {change.colocate}: {app} has {len(units)} unit(s)"
                )
            host = units[int(index)][1]
            if host is None:
                raise errors.NotFoundError(f"{change.colocate} has no machine yet")
        if change.container is not None:
            return [f"{change.container}:{host}" if host is not None else change.container]
        return [str(host)] if host is not None else []


def _deploy_request(
    change: bundles.AddApplication, sha256: str, origin: api.CharmOrigin | None = None
) -> api.DeployRequest:
    constraints = format_constraints(change.constraints)
    return api.DeployRequest(
        application=change.application,
        charm_sha256=sha256,
        num_units=0,
        config=dict(change.options),
        storage=dict(change.storage),
        constraints=[constraints] if constraints else [],
        trust=change.trust,
        origin=origin,
    )
