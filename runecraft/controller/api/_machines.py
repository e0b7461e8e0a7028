"""Routes that enlist existing machines (`add-machine ssh:…`) and remove machines."""

from __future__ import annotations

from fastapi import APIRouter

from runecraft import errors
from runecraft.controller import services
from runecraft.schemas import machines

__all__ = ["machine_routes"]


def machine_routes(service: services.MachineService | None) -> APIRouter:
    router = APIRouter()

    def _service() -> services.MachineService:
        if service is None:
            raise errors.PermanentError("this controller cannot enlist machines")
        return service

    @router.post("/v1/models/{model}/machines", status_code=201)
    async def add_machine(
        model: str, request: machines.AddMachineRequest
    ) -> machines.AddMachineResponse:
        added = await _service().add_machine(
            model,
            request.target,
            private_key=request.private_key,
            host_key=request.host_key,
            install_dir=request.install_dir,
        )
        return machines.AddMachineResponse(
            machine=str(added.number),
            fingerprint=added.fingerprint,
            hostname=added.hostname,
            address=added.address,
        )

    @router.delete("/v1/models/{model}/machines/{number}")
    async def remove_machine(
        model: str, number: int, force: bool = False
    ) -> machines.RemoveMachineResponse:
        outcome = await _service().remove_machine(model, number, force=force)
        return machines.RemoveMachineResponse(machine=str(number), outcome=outcome)

    return router
