"""The controller API in process, over a real store and real services, with no bus, no
agents and no sockets: `api_client` speaks raw HTTP (for the wire contract: status codes,
error bodies), `rune_client` is the Python client the CLI uses, over httpx's ASGI transport."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
from fastapi import FastAPI

from runecraft.client import Client
from runecraft.controller import api, services
from runecraft.controller.state import Store

__all__ = ["TOKEN", "URL", "api_client", "controller_app", "rune_client"]

TOKEN = "admin-token"
URL = "http://controller.test"


async def no_agent(_: str, __: str) -> bool:
    return False


def controller_app(
    store: Store,
    hub: services.ChangeHub,
    *,
    published_revision: int | None,
    verify_agent: Callable[[str, str], Awaitable[bool]] = no_agent,
) -> FastAPI:
    """The controller's API app; status reports every machine as having been sent
    `published_revision`, and the model as reconciled."""

    async def no_shutdown(_: bool) -> None:
        return None

    registry = services.CloudRegistry()
    models = services.ModelService(store, hub, clouds=registry)
    metrics = services.MetricsService(services.MetricSources(unit_counts=store.unit_counts))
    store.time_statements(metrics.db_statement.observe)
    return api.create_app(
        api.ApiContext(
            name="test",
            uuid="u",
            broker="none",
            models=models,
            relations=services.RelationService(store, hub),
            actions=services.ActionService(store, hub),
            catalog=services.CatalogService(store),
            clouds=services.CloudService(store, registry),
            bundles=services.BundleService(store, hub, models.check_substrates),
            status=services.StatusService(
                store,
                hub,
                controller_name="test",
                published_revision=lambda _: published_revision,
                reconciled=lambda: True,
            ),
            settings=services.SettingsService(store, hub),
            secrets=services.SecretService(store, hub),
            resources=services.ResourceService(store, hub),
            credentials=services.CredentialService(store),
            hooks=services.HookService(store),
            ssh_keys=services.AuthorizedKeyService(store, hub),
            users=services.UserService(store, TOKEN),
            verify_agent=verify_agent,
            shutdown=no_shutdown,
            metrics=metrics,
        ),
        audit=services.AuditService(store),
    )


@contextlib.asynccontextmanager
async def api_client(
    store: Store,
    hub: services.ChangeHub,
    *,
    published_revision: int | None,
    verify_agent: Callable[[str, str], Awaitable[bool]] = no_agent,
) -> AsyncIterator[httpx.AsyncClient]:
    """A raw HTTP admin client of `controller_app`."""
    app = controller_app(
        store, hub, published_revision=published_revision, verify_agent=verify_agent
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=URL,
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as http:
        yield http


@contextlib.asynccontextmanager
async def rune_client(
    store: Store, hub: services.ChangeHub, *, published_revision: int | None
) -> AsyncIterator[Client]:
    """The Python client, as admin, of `controller_app`."""
    app = controller_app(store, hub, published_revision=published_revision)
    async with Client(URL, TOKEN, transport=httpx.ASGITransport(app=app)) as client:
        yield client
