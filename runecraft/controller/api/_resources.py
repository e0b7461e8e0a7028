"""Routes for resources: upload a file, attach files to an application, download one."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from runecraft import errors
from runecraft.controller.services import ChangeHub
from runecraft.controller.services._resources import ResourceService
from runecraft.controller.state import Store
from runecraft.schemas import resources as res

__all__ = ["resource_download_routes", "resource_routes"]


def resource_routes(store: Store, hub: ChangeHub) -> APIRouter:
    """Operator routes (include with the admin dependency)."""
    service = ResourceService(store, hub)
    router = APIRouter()

    @router.post("/v1/resources", status_code=201)
    async def upload_resource(request: Request) -> res.ResourceInfo:
        data = bytearray()
        async for chunk in request.stream():
            data.extend(chunk)
            if len(data) > res.MAX_RESOURCE_BYTES:
                raise errors.InvalidSpecError(
                    f"resource file exceeds {res.MAX_RESOURCE_BYTES} bytes"
                )
        return await service.upload(bytes(data))

    @router.post("/v1/models/{model}/applications/{application}/resources")
    async def attach_resources(
        model: str, application: str, body: res.AttachResourceRequest
    ) -> list[res.ResourceInfo]:
        return await service.attach(model, application, body.resources)

    return router


def resource_download_routes(store: Store, hub: ChangeHub) -> APIRouter:
    """The download route agents use (include with the agent-or-admin dependency)."""
    service = ResourceService(store, hub)
    router = APIRouter()

    @router.get("/v1/resources/{sha256}")
    async def download_resource(sha256: str) -> Response:
        return Response(await service.download(sha256), media_type="application/octet-stream")

    return router
