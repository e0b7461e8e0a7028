"""Relations: `integrate` and `remove-relation`, validated first, written in one go."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from typing import Protocol

import structlog

from runecraft import errors
from runecraft.controller.services import _endpoints, _offers
from runecraft.controller.services._ports import (
    StateStore,
    StoreService,
    WithApplications,
    WithCharms,
    WithModel,
    WithOffers,
    WithRelations,
)
from runecraft.controller.state import (
    ApplicationRecord,
    EndpointRecord,
    ModelRecord,
    RelationRecord,
    SaasRecord,
)
from runecraft.schemas import charm as charm_schema

__all__ = [
    "RelationService",
    "RelationState",
    "add_peer_relations",
    "charm_meta",
    "integrate_in",
    "remove_relation_in",
]

logger = structlog.get_logger(__name__)


class RelationState(WithModel, WithApplications, WithCharms, WithRelations, WithOffers, Protocol):
    """What relating and unrelating applications needs of a transaction."""


class RelationStore(StateStore[_offers.OfferState], Protocol):
    async def model(self, name: str) -> ModelRecord: ...

    async def models(self) -> list[ModelRecord]: ...

    async def relations(
        self, model_uuid: str
    ) -> list[tuple[RelationRecord, list[EndpointRecord]]]: ...


async def charm_meta(tx: RelationState, app: ApplicationRecord) -> charm_schema.CharmMeta:
    """The metadata.yaml of an application's charm, as stored with the charm."""
    charm = await tx.charms.get(app.charm_sha256)
    return charm_schema.CharmMeta.model_validate(charm.meta)


async def add_peer_relations(
    tx: WithRelations,
    app: ApplicationRecord,
    meta: charm_schema.CharmMeta,
    skip: Sequence[str] = (),
) -> list[RelationRecord]:
    """One peer relation per peer endpoint of the charm (those in `skip` exist already)."""
    added = []
    for endpoint in _endpoints.charm_endpoints(app.name, meta, app.model_uuid):
        if endpoint.role == "peer" and endpoint.endpoint not in skip:
            added.append(await tx.relations.insert(str(endpoint), [endpoint]))
    return added


class RelationService(StoreService[RelationStore]):
    """Relations between applications of a model."""

    async def integrate(
        self, model_name: str, first: str, second: str
    ) -> tuple[RelationRecord, list[EndpointRecord]]:
        """Relate two applications (`app` or `app:endpoint` each), as `juju integrate`."""
        async with self.store.write(model_name) as tx:
            relation, pair = await integrate_in(tx, first, second)
        self.hub.changed()
        logger.info("integrated", model=model_name, relation=relation.id, key=relation.key)
        return relation, pair

    async def remove_relation(self, model_name: str, names: Sequence[str]) -> RelationRecord:
        """Make a relation dying: its units depart, run `-broken` and leave scope; then the
        controller deletes it. Removing a dying relation again changes nothing."""
        async with self.store.write(model_name) as tx:
            relation = await remove_relation_in(tx, names)
        self.hub.changed()
        logger.info("relation removed", model=model_name, relation=relation.id)
        return relation

    async def relations(self, model_name: str) -> list[tuple[RelationRecord, list[EndpointRecord]]]:
        model = await self.store.model(model_name)
        return await self.store.relations(model.uuid)

    # --- cross-model relations ----------------------------------------------------------

    async def offer(
        self, model_name: str, application: str, endpoints: Sequence[str], name: str | None
    ) -> _offers.OfferView:
        """Offer endpoints of an application to the controller's other models."""
        async with self.store.write(model_name) as tx:
            offer = await _offers.offer_in(tx, application, endpoints, name)
            assert tx.model is not None
            views = await _offers.offer_views(tx, tx.model)
        self.hub.changed()
        logger.info("offered", model=model_name, offer=offer.name, application=application)
        return next(v for v in views if v.offer.name == offer.name)

    async def offers(self, model_name: str) -> list[_offers.OfferView]:
        async with self.store.write(model_name) as tx:
            assert tx.model is not None
            return await _offers.offer_views(tx, tx.model)

    async def find_offers(
        self,
        *,
        model: str | None = None,
        offer: str | None = None,
        interface: str | None = None,
        visible: Collection[str] | None = None,
    ) -> list[_offers.OfferView]:
        """Juju's `find-offers`: the offers of every model (or of the one named; among the
        model uuids `visible`, when given) whose name contains `offer` and that have an
        endpoint of `interface`, by URL. A model named that does not exist is an error."""
        models = await self.store.models()
        if model is not None and all(m.name != model for m in models):
            raise errors.NotFoundError(f'model "{_offers.OFFER_OWNER}/{model}" not found')
        found: list[_offers.OfferView] = []
        for record in models:
            if (model is not None and record.name != model) or (
                visible is not None and record.uuid not in visible
            ):
                continue
            found += await self.offers(record.name)
        return sorted(
            (
                view
                for view in found
                if (offer is None or offer in view.offer.name)
                and (
                    interface is None
                    or any(e["interface"] == interface for e in view.endpoints.values())
                )
            ),
            key=lambda view: view.url,
        )

    async def remove_offer(self, model_name: str, name: str, *, force: bool) -> None:
        """Remove an offer (refused while related, unless `force`: then its relations die)."""
        async with self.store.write(model_name) as tx:
            assert tx.model is not None
            offer = await tx.offers.offer(tx.model.uuid, name)
            if offer is None:
                raise errors.NotFoundError(
                    f'offer "{_offers.OFFER_OWNER}/{model_name}.{name}" not found'
                )
            killed = await _offers.remove_offer_in(tx, offer, force=force)
        self.hub.changed()
        logger.info("offer removed", model=model_name, offer=name, relations=killed)

    async def consume(self, model_name: str, url: str, alias: str | None) -> SaasRecord:
        """Add a SAAS for an offer of another model of this controller."""
        async with self.store.write(model_name) as tx:
            saas = await _offers.consume_in(tx, url, alias)
        self.hub.changed()
        logger.info("consumed", model=model_name, saas=saas.name, url=saas.url)
        return saas

    async def remove_saas(self, model_name: str, name: str) -> list[int]:
        """Remove a SAAS: its relations die (on both sides) and it is forgotten."""
        async with self.store.write(model_name) as tx:
            assert tx.model is not None
            saas = await tx.offers.saas(tx.model.uuid, name)
            if saas is None:
                raise errors.NotFoundError(f'SAAS "{name}" not found in model "{model_name}"')
            killed = []
            for relation, endpoints in await tx.relations.all():
                if relation.life == "alive" and any(e.application == name for e in endpoints):
                    await tx.relations.set_life(relation, "dying")
                    killed.append(relation.id)
            await tx.offers.remove_saas(saas)
        self.hub.changed()
        logger.info("SAAS removed", model=model_name, saas=name, relations=killed)
        return killed

    async def saas(self, model_name: str) -> list[SaasRecord]:
        async with self.store.write(model_name) as tx:
            assert tx.model is not None
            return await tx.offers.saas_of(tx.model.uuid)


async def integrate_in(
    tx: RelationState, first: str, second: str
) -> tuple[RelationRecord, list[EndpointRecord]]:
    """Relate two applications in `tx` (`app` or `app:endpoint` each)."""
    names = [_endpoints.parse_endpoint(first)[0], _endpoints.parse_endpoint(second)[0]]
    assert tx.model is not None
    if tx.model.life != "alive":
        raise errors.ConflictError(f'model "{tx.model.name}" is being destroyed')
    endpoints: dict[str, list[EndpointRecord]] = {}
    subordinate: dict[str, bool] = {}
    consumed: list[SaasRecord] = []
    for name in dict.fromkeys(names):
        saas = await _saas_named(tx, name)
        if saas is not None:
            consumed.append(saas)
            endpoints[name] = _offers.saas_endpoints(saas)
            subordinate[name] = False
            continue
        app = await tx.applications.get(name)
        if app.life != "alive":
            raise errors.ConflictError(f'application "{name}" is being removed')
        meta = await charm_meta(tx, app)
        endpoints[name] = _endpoints.charm_endpoints(name, meta, tx.model.uuid)
        subordinate[name] = meta.subordinate
    if len(consumed) == 2:
        raise errors.InvalidSpecError(
            f'cannot relate "{first}" to "{second}": both are SAAS (consumed offers)'
        )
    pair = _endpoints.infer_endpoints(first, second, endpoints, subordinate)
    key = _endpoints.relation_key(pair)
    existing = await tx.relations.all()
    for relation, _ in existing:
        if relation.key == key:
            state = "already exists" if relation.life == "alive" else "is being removed"
            raise errors.ConflictError(f'cannot add relation "{key}": relation {key} {state}')
    _endpoints.check_limits(pair, [e for _, eps in existing for e in eps], key)
    scope = "container" if "container" in (pair[0].scope, pair[1].scope) else "global"
    if scope == "container" and all(subordinate.get(e.application) for e in pair):
        raise errors.InvalidSpecError(
            f'cannot add relation "{key}": both "{pair[0].application}" and '
            f'"{pair[1].application}" are subordinate applications, and a container-scoped '
            "relation needs a principal application on one side"
        )
    relation = await tx.relations.insert(
        key, [_with_scope(pair[0], scope), _with_scope(pair[1], scope)]
    )
    for saas in consumed:
        await _offers.link_twin(tx, saas, relation, pair)
    return relation, list(pair)


async def _saas_named(tx: RelationState, name: str) -> SaasRecord | None:
    """The SAAS of `tx`'s model called `name` (an application of that name wins)."""
    assert tx.model is not None
    if await tx.applications.find(name) is not None:
        return None
    saas = await tx.offers.saas(tx.model.uuid, name)
    if saas is not None and saas.life != "alive":
        raise errors.ConflictError(f'SAAS "{name}" is being removed')
    return saas


async def remove_relation_in(tx: RelationState, names: Sequence[str]) -> RelationRecord:
    """Make a relation dying in `tx` (a dying one stays as it is)."""
    relation, _ = _endpoints.find_relation(names, await tx.relations.all())
    if relation.life == "alive":
        await tx.relations.set_life(relation, "dying")  # both sides, across models
    return relation


def _with_scope(endpoint: EndpointRecord, scope: str) -> EndpointRecord:
    """Juju gives both ends container scope when either has it."""
    return dataclasses.replace(endpoint, scope=scope)
