"""Charm archives: operators upload them, agents (and operators) download them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from runecraft.controller.api._deps import Caller, Context, read_upload
from runecraft.controller.api._openapi import binary_answer, binary_upload
from runecraft.schemas import api

__all__ = ["MAX_CHARM_BYTES", "downloads", "router"]

MAX_CHARM_BYTES = 512 * 1024 * 1024

router = APIRouter()
downloads = APIRouter()
"""The archive download agents use: an agent gets only the charms its model's applications
use (include with the `DOWNLOAD` dependency)."""


@router.post("/v1/charms", status_code=201, openapi_extra=binary_upload("A charm archive (zip)"))
async def upload_charm(
    ctx: Context, caller: Caller, request: Request, model: str | None = None
) -> api.CharmInfo:
    """`model`: the model the charm is for (write access to it is what is checked)."""
    await ctx.users.check_upload(caller, "charm", model)
    data = await read_upload(request, MAX_CHARM_BYTES, "charm archive")
    record = await ctx.models.upload_charm(data)
    return api.CharmInfo(sha256=record.sha256, name=record.name, size=record.size)


@downloads.get(
    "/v1/charms/{sha256}/archive",
    response_class=Response,
    responses=binary_answer("application/zip", "The charm archive"),
)
async def charm_archive(ctx: Context, caller: Caller, sha256: str) -> Response:
    await ctx.users.check_charm_download(caller, sha256)
    return Response(await ctx.catalog.charm_archive(sha256), media_type="application/zip")
