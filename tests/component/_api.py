"""The controller API in process, over a real store, for tests that drive it with httpx."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from runecraft.controller import api, services
from runecraft.controller.state import Store

__all__ = ["TOKEN", "api_client"]

TOKEN = "admin-token"


@contextlib.asynccontextmanager
async def api_client(
    store: Store, hub: services.ChangeHub, *, published_revision: int | None
) -> AsyncIterator[httpx.AsyncClient]:
    """An admin client of an API with no bus and no agents; status reports every machine as
    having been sent `published_revision`."""

    async def status(model: str) -> dict[str, Any]:
        record = await store.model(model)
        return services.build_status(
            await store.snapshot(record.uuid),
            controller_name="test",
            published_revision=lambda _: published_revision,
            reconciled=True,
        )

    async def no_agent(_: str, __: str) -> bool:
        return False

    async def no_shutdown(_: bool) -> None:
        return None

    app = api.create_app(
        api.ApiContext(
            name="test",
            uuid="u",
            admin_token=TOKEN,
            broker="none",
            store=store,
            models=services.ModelService(store, hub),
            relations=services.RelationService(store, hub),
            actions=services.ActionService(store, hub),
            hub=hub,
            status=status,
            verify_agent=no_agent,
            shutdown=no_shutdown,
        )
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://test",
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as http:
        yield http
