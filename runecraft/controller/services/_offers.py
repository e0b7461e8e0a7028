"""Cross-model relations inside one controller: `offer`, `remove-offer`, `consume`, and the
SAAS side of `integrate`, as Juju does them.

A relation with a SAAS is stored twice, as an ordinary relation of each model: in the
consumer between the local application and the SAAS (named by its alias), and in the
offering model between the offered application and `remote-<token>` (Juju's name for the
consumer). `cross_model_relations` pairs the two, so removing either side ends both.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from runecraft import errors
from runecraft.controller.services import _endpoints
from runecraft.controller.services._ports import (
    WithApplications,
    WithCharms,
    WithModel,
    WithOffers,
    WithRelations,
)
from runecraft.controller.state import (
    CrossModelRecord,
    EndpointRecord,
    ModelRecord,
    OfferRecord,
    RelationRecord,
    SaasRecord,
)
from runecraft.schemas import charm as charm_schema

__all__ = [
    "OFFER_OWNER",
    "OfferState",
    "OfferView",
    "TwinState",
    "consume_in",
    "link_twin",
    "offer_in",
    "offer_views",
    "parse_offer_url",
    "remove_offer_in",
    "saas_endpoints",
]

OFFER_OWNER = "admin"
"""The owner in offer URLs, as in model names (`admin/MODEL`)."""

_OFFER_NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*\Z")
_MODEL_NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*\Z")


class OfferState(WithModel, WithApplications, WithCharms, WithRelations, WithOffers, Protocol):
    """What offering and consuming needs of a transaction."""

    async def model_named(self, name: str) -> ModelRecord: ...


@dataclass(frozen=True)
class OfferView:
    """An offer with what `offers` and `status` show of it."""

    offer: OfferRecord
    model_name: str
    charm: str
    endpoints: dict[str, dict[str, str]]
    connections: tuple[CrossModelRecord, ...]

    @property
    def connected(self) -> int:
        return len(self.connections)

    @property
    def url(self) -> str:
        return f"{OFFER_OWNER}/{self.model_name}.{self.offer.name}"


def parse_offer_url(text: str) -> tuple[str, str]:
    """`[CONTROLLER:][OWNER/]MODEL.OFFER` → (model, offer)."""
    rest = text.split(":", 1)[1] if ":" in text else text
    owner, sep, rest = rest.rpartition("/")
    if sep and owner != OFFER_OWNER:
        raise errors.NotFoundError(f'offer "{text}" not found: no models of user "{owner}"')
    model, dot, offer = rest.partition(".")
    if not dot or not _MODEL_NAME_RE.match(model) or not _OFFER_NAME_RE.match(offer):
        raise errors.InvalidSpecError(
            f'invalid offer URL "{text}": expected [CONTROLLER:][OWNER/]MODEL.OFFER'
        )
    return model, offer


async def _charm_meta(tx: OfferState, charm_sha256: str) -> charm_schema.CharmMeta:
    return charm_schema.CharmMeta.model_validate((await tx.charms.get(charm_sha256)).meta)


async def offer_in(
    tx: OfferState, application: str, endpoint_names: Sequence[str], name: str | None
) -> OfferRecord:
    """Offer endpoints of an application of `tx`'s model (`offer APP:EP,EP [NAME]`)."""
    assert tx.model is not None
    offer_name = name or application
    if not _OFFER_NAME_RE.match(offer_name):
        raise errors.InvalidSpecError(
            f'invalid offer name "{offer_name}": lowercase letters, digits and hyphens'
        )
    if not endpoint_names:
        raise errors.InvalidSpecError(f'offer of "{application}" names no endpoint')
    app = await tx.applications.get(application)
    if app.life != "alive":
        raise errors.ConflictError(f'application "{application}" is being removed')
    meta = await _charm_meta(tx, app.charm_sha256)
    available = {e.endpoint: e for e in _endpoints.charm_endpoints(application, meta)}
    for endpoint in endpoint_names:
        found = available.get(endpoint)
        if found is None:
            raise errors.NotFoundError(
                f'application "{application}" has no "{endpoint}" relation endpoint'
            )
        if found.role == "peer":
            raise errors.InvalidSpecError(
                f'cannot offer "{application}:{endpoint}": peer endpoints cannot be offered'
            )
    if await tx.offers.offer(tx.model.uuid, offer_name) is not None:
        raise errors.ConflictError(
            f'offer "{OFFER_OWNER}/{tx.model.name}.{offer_name}" already exists'
        )
    offer = OfferRecord(
        model_uuid=tx.model.uuid,
        name=offer_name,
        application=application,
        endpoints=sorted(dict.fromkeys(endpoint_names)),
        created=time.time(),
    )
    await tx.offers.add_offer(offer)
    return offer


async def offer_views(tx: OfferState, model: ModelRecord) -> list[OfferView]:
    """Every offer of `model` with its charm, endpoints and connected relations."""
    links = [
        link for link in await tx.offers.links(model.uuid) if link.offer_model_uuid == model.uuid
    ]
    views = []
    for offer in await tx.offers.offers(model.uuid):
        meta = await _charm_meta(tx, await tx.offers.charm_of(model.uuid, offer.application))
        endpoints = {
            e.endpoint: {"interface": e.interface, "role": e.role}
            for e in _endpoints.charm_endpoints(offer.application, meta)
            if e.endpoint in offer.endpoints
        }
        views.append(
            OfferView(
                offer=offer,
                model_name=model.name,
                charm=meta.name,
                endpoints=endpoints,
                connections=tuple(link for link in links if link.offer_name == offer.name),
            )
        )
    return views


async def remove_offer_in(tx: OfferState, offer: OfferRecord, *, force: bool) -> list[int]:
    """Remove an offer; with `force`, its relations die first (without, a connected offer
    is refused, as Juju). Returns the offering-side relations made dying."""
    links = [
        link
        for link in await tx.offers.links(offer.model_uuid)
        if link.offer_model_uuid == offer.model_uuid and link.offer_name == offer.name
    ]
    if links and not force:
        raise errors.ConflictError(
            f'cannot remove offer "{offer.name}": it has {len(links)} relation(s); '
            "use --force to remove them with the offer"
        )
    killed = []
    ids = {link.offer_relation_id for link in links}
    for relation, _ in await tx.relations.all(offer.model_uuid):
        if relation.id in ids and relation.life == "alive":
            await tx.relations.set_life(relation, "dying")  # and the consumer's side
            killed.append(relation.id)
    await tx.offers.remove_offer(offer)
    return killed


async def consume_in(tx: OfferState, url: str, alias: str | None) -> SaasRecord:
    """Add a SAAS for the offer at `url` to `tx`'s model (`consume URL [ALIAS]`)."""
    assert tx.model is not None
    model_name, offer_name = parse_offer_url(url)
    name = alias or offer_name
    if not _OFFER_NAME_RE.match(name):
        raise errors.InvalidSpecError(
            f'invalid SAAS name "{name}": lowercase letters, digits and hyphens'
        )
    offering = await tx.model_named(model_name)
    if offering.uuid == tx.model.uuid:
        raise errors.InvalidSpecError(
            f'cannot consume offer "{url}": it is in model "{model_name}" itself'
        )
    offer = await tx.offers.offer(offering.uuid, offer_name)
    if offer is None:
        raise errors.NotFoundError(f'offer "{OFFER_OWNER}/{model_name}.{offer_name}" not found')
    if await tx.applications.find(name) is not None:
        raise errors.ConflictError(
            f'cannot consume offer "{url}" as "{name}": an application of that name exists'
        )
    existing = await tx.offers.saas(tx.model.uuid, name)
    if existing is not None:
        raise errors.ConflictError(f'SAAS "{name}" already exists in model "{tx.model.name}"')
    view = next(v for v in await offer_views(tx, offering) if v.offer.name == offer_name)
    saas = SaasRecord(
        model_uuid=tx.model.uuid,
        name=name,
        offer_model_uuid=offering.uuid,
        offer_name=offer_name,
        url=view.url,
        endpoints=view.endpoints,
        token=uuid.uuid4().hex,
        life="alive",
        created=time.time(),
    )
    await tx.offers.add_saas(saas)
    return saas


def saas_endpoints(saas: SaasRecord) -> list[EndpointRecord]:
    """The SAAS's endpoints in the consuming model, for matching as `integrate` does."""
    return [
        EndpointRecord(
            model_uuid=saas.model_uuid,
            relation_id=-1,
            application=saas.name,
            endpoint=name,
            role=spec["role"],
            interface=spec["interface"],
            scope="global",
            relation_limit=None,
        )
        for name, spec in sorted(saas.endpoints.items())
    ]


class TwinState(WithRelations, WithOffers, Protocol):
    """What the offering side of a new cross-model relation needs of a transaction."""


async def link_twin(
    tx: TwinState,
    saas: SaasRecord,
    relation: RelationRecord,
    pair: Sequence[EndpointRecord],
) -> RelationRecord:
    """The offering model's side of a consumer's new relation with `saas`: the offered
    application related to `remote-<token>`, linked to the consumer's relation."""
    offer = await tx.offers.offer(saas.offer_model_uuid, saas.offer_name)
    if offer is None:
        raise errors.NotFoundError(f'offer "{saas.url}" not found: it was removed')
    local = next(e for e in pair if e.application != saas.name)
    remote = next(e for e in pair if e.application == saas.name)
    if remote.endpoint not in offer.endpoints:
        raise errors.NotFoundError(f'offer "{saas.url}" has no "{remote.endpoint}" endpoint')
    twin = [
        EndpointRecord(
            model_uuid=saas.offer_model_uuid,
            relation_id=-1,
            application=offer.application,
            endpoint=remote.endpoint,
            role=remote.role,
            interface=remote.interface,
            scope="global",
            relation_limit=None,
        ),
        EndpointRecord(
            model_uuid=saas.offer_model_uuid,
            relation_id=-1,
            application=saas.remote_name,
            endpoint=local.endpoint,
            role=local.role,
            interface=local.interface,
            scope="global",
            relation_limit=None,
        ),
    ]
    offered = await tx.relations.insert(_endpoints.relation_key(twin), twin, saas.offer_model_uuid)
    await tx.offers.link(
        CrossModelRecord(
            model_uuid=relation.model_uuid,
            relation_id=relation.id,
            saas=saas.name,
            application=local.application,
            offer_model_uuid=saas.offer_model_uuid,
            offer_relation_id=offered.id,
            offer_name=saas.offer_name,
            offer_application=offer.application,
            endpoint=remote.endpoint,
            token=saas.token,
        )
    )
    return offered
