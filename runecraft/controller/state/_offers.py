"""Offers, consumed offers (SAAS) and the links of relations across models, inside a write
transaction. Each side of a cross-model relation is an ordinary relation of its own model;
`cross_model_relations` pairs them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import sqlalchemy as sa

from runecraft import errors
from runecraft.controller.state import _tables as t
from runecraft.controller.state._base import Repository, record
from runecraft.controller.state._records import CrossModelRecord, OfferRecord, SaasRecord

__all__ = ["Offers"]


class Offers(Repository):
    """Offers and SAAS of any model (a consumer's write reads the offering model's rows)."""

    # --- offers -------------------------------------------------------------------------

    async def offers(self, model_uuid: str) -> list[OfferRecord]:
        rows = await self._conn.execute(
            sa.select(t.offers).where(t.offers.c.model_uuid == model_uuid).order_by(t.offers.c.name)
        )
        return [record(OfferRecord, r) for r in rows]

    async def offer(self, model_uuid: str, name: str) -> OfferRecord | None:
        row = await self._first(
            sa.select(t.offers).where(t.offers.c.model_uuid == model_uuid, t.offers.c.name == name)
        )
        return None if row is None else record(OfferRecord, row)

    async def add_offer(self, offer: OfferRecord) -> None:
        await self._conn.execute(sa.insert(t.offers).values(**dataclasses.asdict(offer)))
        self._session.changed(f"offer-{offer.name}", "added", offer.model_uuid)

    async def remove_offer(self, offer: OfferRecord) -> None:
        """The offer and the access users were given to it."""
        await self._conn.execute(
            sa.delete(t.offer_access).where(
                t.offer_access.c.model_uuid == offer.model_uuid,
                t.offer_access.c.offer == offer.name,
            )
        )
        await self._conn.execute(
            sa.delete(t.offers).where(
                t.offers.c.model_uuid == offer.model_uuid, t.offers.c.name == offer.name
            )
        )
        self._session.changed(f"offer-{offer.name}", "removed", offer.model_uuid)

    async def charm_of(self, model_uuid: str, application: str) -> str:
        """The charm (sha256) of an application of any model (an offer's, for consumers)."""
        row = await self._first(
            sa.select(t.applications.c.charm_sha256).where(
                t.applications.c.model_uuid == model_uuid,
                t.applications.c.name == application,
            )
        )
        if row is None:
            raise errors.NotFoundError(f'application "{application}" not found')
        return str(row.charm_sha256)

    # --- SAAS ---------------------------------------------------------------------------

    async def saas_of(self, model_uuid: str) -> list[SaasRecord]:
        rows = await self._conn.execute(
            sa.select(t.saas).where(t.saas.c.model_uuid == model_uuid).order_by(t.saas.c.name)
        )
        return [record(SaasRecord, r) for r in rows]

    async def saas(self, model_uuid: str, name: str) -> SaasRecord | None:
        row = await self._first(
            sa.select(t.saas).where(t.saas.c.model_uuid == model_uuid, t.saas.c.name == name)
        )
        return None if row is None else record(SaasRecord, row)

    async def saas_by_token(self, token: str) -> SaasRecord | None:
        row = await self._first(sa.select(t.saas).where(t.saas.c.token == token))
        return None if row is None else record(SaasRecord, row)

    async def add_saas(self, saas: SaasRecord) -> None:
        await self._conn.execute(sa.insert(t.saas).values(**dataclasses.asdict(saas)))
        self._session.changed(f"saas-{saas.name}", "added", saas.model_uuid)

    async def remove_saas(self, saas: SaasRecord) -> None:
        await self._conn.execute(
            sa.delete(t.saas).where(
                t.saas.c.model_uuid == saas.model_uuid, t.saas.c.name == saas.name
            )
        )
        self._session.changed(f"saas-{saas.name}", "removed", saas.model_uuid)

    # --- links --------------------------------------------------------------------------

    async def link(self, link: CrossModelRecord) -> None:
        await self._conn.execute(
            sa.insert(t.cross_model_relations).values(**dataclasses.asdict(link))
        )

    async def links(self, model_uuid: str) -> list[CrossModelRecord]:
        """The cross-model relations `model_uuid` takes part in, on either side."""
        table = t.cross_model_relations
        rows = await self._conn.execute(
            sa.select(table)
            .where(sa.or_(table.c.model_uuid == model_uuid, table.c.offer_model_uuid == model_uuid))
            .order_by(table.c.model_uuid, table.c.relation_id)
        )
        return [record(CrossModelRecord, r) for r in rows]

    async def unlink(self, model_uuid: str, relation_ids: Iterable[int]) -> None:
        """Forget the links of relations of `model_uuid` (either side) that are deleted."""
        chosen = sorted(set(relation_ids))
        if not chosen:
            return
        table = t.cross_model_relations
        await self._conn.execute(
            sa.delete(table).where(
                sa.or_(
                    sa.and_(table.c.model_uuid == model_uuid, table.c.relation_id.in_(chosen)),
                    sa.and_(
                        table.c.offer_model_uuid == model_uuid,
                        table.c.offer_relation_id.in_(chosen),
                    ),
                )
            )
        )
