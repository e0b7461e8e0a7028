"""Reads of what the controller holds: its models and its charms."""

from __future__ import annotations

from runecraft.controller.services._views import model_info
from runecraft.controller.state import Store
from runecraft.schemas import api

__all__ = ["CatalogService"]


class CatalogService:
    """The models and charm archives of the controller, as the API answers them."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def models(self) -> list[api.ModelInfo]:
        return [model_info(m) for m in await self._store.models()]

    async def model(self, name: str) -> api.ModelInfo:
        return model_info(await self._store.model(name))

    async def charm_archive(self, sha256: str) -> bytes:
        return await self._store.charm_blob(sha256)

    async def charm_name(self, sha256: str) -> str:
        return (await self._store.charm(sha256)).name
