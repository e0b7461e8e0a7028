"""Routes that enlist existing machines (`add-machine ssh:…`), add new ones (`add-machine`
with no target) and remove machines."""

from __future__ import annotations

from fastapi import APIRouter

from runecraft import errors
from runecraft.controller import services
from runecraft.controller.api._deps import ApiContext, Context
from runecraft.schemas import machines

__all__ = ["router"]

router = APIRouter()


def _service(ctx: ApiContext) -> services.MachineService:
    if ctx.machines is None:
        raise errors.PermanentError("this controller cannot enlist machines")
    return ctx.machines


@router.post("/v1/models/{model}/machines", status_code=201)
async def add_machine(
    ctx: Context, model: str, request: machines.AddMachineRequest
) -> machines.AddMachineResponse:
    added = await _service(ctx).add_machine(
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


@router.post("/v1/models/{model}/machines/new", status_code=201)
async def new_machines(
    ctx: Context, model: str, request: machines.NewMachinesRequest
) -> machines.NewMachinesResponse:
    numbers = await _service(ctx).add_new(model, request.count, substrate=request.substrate)
    return machines.NewMachinesResponse(machines=[str(n) for n in numbers])


@router.delete("/v1/models/{model}/machines/{number}")
async def remove_machine(
    ctx: Context, model: str, number: int, force: bool = False
) -> machines.RemoveMachineResponse:
    outcome = await _service(ctx).remove_machine(model, number, force=force)
    return machines.RemoveMachineResponse(machine=str(number), outcome=outcome)
