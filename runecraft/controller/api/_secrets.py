"""Secret routes: user secrets (`add-secret`, `update-secret`, `grant-secret`,
`revoke-secret`, `remove-secret`) and reading every secret (`secrets`, `show-secret`).
Reading needs read access to the model, changing write, and a secret's content (`reveal`)
admin, as in Juju."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from runecraft.controller.api._deps import Caller, Context
from runecraft.controller.api._openapi import declares
from runecraft.schemas import secrets as sec

__all__ = ["router"]

router = APIRouter(prefix="/v1/models/{model}/secrets")
"""Routes under `/v1/models/{model}/secrets`; `ref` is a secret name or URI."""

SECRETS = declares(dict[str, sec.SecretDocument])


@router.post("", status_code=201)
async def add_secret(
    ctx: Context, model: str, request: sec.AddSecretRequest
) -> sec.AddSecretResponse:
    return sec.AddSecretResponse(uri=await ctx.secrets.add(model, request))


@router.get("", **SECRETS)
async def list_secrets(
    ctx: Context, caller: Caller, model: str, owner: str | None = None, reveal: bool = False
) -> dict[str, Any]:
    if reveal:
        await ctx.users.check_model(caller, model, "admin")
    return await ctx.secrets.list(model, owner=owner, reveal=reveal)


@router.get("/{ref}", **SECRETS)
async def show_secret(
    ctx: Context,
    caller: Caller,
    model: str,
    ref: str,
    query: Annotated[sec.SecretQuery, Query()],
) -> dict[str, Any]:
    if query.reveal:
        await ctx.users.check_model(caller, model, "admin")
    return await ctx.secrets.show(model, ref, **query.model_dump())


@router.patch("/{ref}", status_code=204)
async def update_secret(
    ctx: Context, model: str, ref: str, request: sec.UpdateSecretRequest
) -> None:
    await ctx.secrets.update(model, ref, request)


@router.post("/{ref}/grant", status_code=204)
async def grant_secret(
    ctx: Context, model: str, ref: str, request: sec.SecretAccessRequest
) -> None:
    await ctx.secrets.grant(model, ref, request.applications)


@router.post("/{ref}/revoke", status_code=204)
async def revoke_secret(
    ctx: Context, model: str, ref: str, request: sec.SecretAccessRequest
) -> None:
    await ctx.secrets.revoke(model, ref, request.applications)


@router.delete("/{ref}", status_code=204)
async def remove_secret(ctx: Context, model: str, ref: str, revision: int | None = None) -> None:
    await ctx.secrets.remove(model, ref, revision)
