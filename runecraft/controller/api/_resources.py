"""Routes for resources: upload a file, attach files to an application, list an
application's resources, download one."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from runecraft.controller.api._deps import MODEL_READ, MODEL_WRITE, Caller, Context, read_upload
from runecraft.controller.api._openapi import binary_answer, binary_upload
from runecraft.schemas import resources as res

__all__ = ["downloads", "router"]

router = APIRouter()
"""Operator routes (include with the `USER` dependency; model routes check the model)."""
downloads = APIRouter()
"""The download route agents use: an agent gets only the resources of its model's
applications (include with the `DOWNLOAD` dependency)."""


@router.post("/v1/resources", status_code=201, openapi_extra=binary_upload("The resource file"))
async def upload_resource(
    ctx: Context, caller: Caller, request: Request, model: str | None = None
) -> res.ResourceInfo:
    """`model`: the model the file is for (write access to it is what is checked)."""
    await ctx.users.check_upload(caller, "resource", model)
    data = await read_upload(request, res.MAX_RESOURCE_BYTES, "resource file")
    return await ctx.resources.upload(data)


@router.post("/v1/models/{model}/applications/{application}/resources", dependencies=[MODEL_WRITE])
async def attach_resources(
    ctx: Context, model: str, application: str, body: res.AttachResourceRequest
) -> list[res.ResourceInfo]:
    return await ctx.resources.attach(model, application, body.resources)


@router.get(
    "/v1/models/{model}/applications/{application}/resources",
    dependencies=[MODEL_READ],
    response_model_exclude_none=True,  # a file has no image, an oci-image no filename
)
async def application_resources(
    ctx: Context, model: str, application: str
) -> res.ApplicationResources:
    return await ctx.resources.of_application(model, application)


@downloads.get(
    "/v1/resources/{sha256}",
    response_class=Response,
    responses=binary_answer("application/octet-stream", "The resource file"),
)
async def download_resource(ctx: Context, caller: Caller, sha256: str) -> Response:
    await ctx.users.check_resource_download(caller, sha256)
    return Response(await ctx.resources.download(sha256), media_type="application/octet-stream")
