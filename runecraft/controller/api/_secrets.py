"""Secret routes: user secrets (`add-secret`, `update-secret`, `grant-secret`,
`revoke-secret`, `remove-secret`) and reading every secret (`secrets`, `show-secret`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from runecraft.controller.services import ChangeHub
from runecraft.controller.services._secrets import SecretService
from runecraft.controller.state import Store
from runecraft.schemas import secrets as sec

__all__ = ["secret_routes"]


def secret_routes(store: Store, hub: ChangeHub) -> APIRouter:
    """Routes under `/v1/models/{model}/secrets`; `ref` is a secret name or URI."""
    router = APIRouter()
    service = SecretService(store, hub)
    base = "/v1/models/{model}/secrets"

    @router.post(base, status_code=201)
    async def add_secret(model: str, request: sec.AddSecretRequest) -> sec.AddSecretResponse:
        return sec.AddSecretResponse(uri=await service.add(model, request))

    @router.get(base)
    async def list_secrets(
        model: str, owner: str | None = None, reveal: bool = False
    ) -> dict[str, Any]:
        return await service.list(model, owner=owner, reveal=reveal)

    @router.get(base + "/{ref}")
    async def show_secret(
        model: str,
        ref: str,
        reveal: bool = False,
        revision: int | None = None,
        revisions: bool = False,
    ) -> dict[str, Any]:
        return await service.show(model, ref, reveal=reveal, revision=revision, revisions=revisions)

    @router.patch(base + "/{ref}", status_code=204)
    async def update_secret(model: str, ref: str, request: sec.UpdateSecretRequest) -> None:
        await service.update(model, ref, request)

    @router.post(base + "/{ref}/grant", status_code=204)
    async def grant_secret(model: str, ref: str, request: sec.SecretAccessRequest) -> None:
        await service.grant(model, ref, request.applications)

    @router.post(base + "/{ref}/revoke", status_code=204)
    async def revoke_secret(model: str, ref: str, request: sec.SecretAccessRequest) -> None:
        await service.revoke(model, ref, request.applications)

    @router.delete(base + "/{ref}", status_code=204)
    async def remove_secret(model: str, ref: str, revision: int | None = None) -> None:
        await service.remove(model, ref, revision)

    return router
