"""Users and access: `add-user`, `remove-user`, `change-user-password`, `users`, `login`,
`logout`, `whoami`, `grant` and `revoke`."""

from __future__ import annotations

from fastapi import APIRouter, Request

from runecraft.controller.api._deps import Caller, Context
from runecraft.controller.api._openapi import answers
from runecraft.schemas import api
from runecraft.schemas import users as schema

__all__ = ["public", "router"]

router = APIRouter()
"""Routes for users (include with the `USER` dependency; each checks the rest)."""
public = APIRouter()
"""`login`: a user name and password for a token (include without an auth dependency)."""


@public.post("/v1/login", responses=answers(403))
async def login(ctx: Context, http: Request, request: schema.LoginRequest) -> schema.LoginResponse:
    issued = await ctx.users.login(request)
    http.state.principal = f"user:{issued.user}"
    return issued


@router.post("/v1/logout")
async def logout(ctx: Context, caller: Caller) -> api.Revoked:
    """Revoke the token of this request (the admin token cannot be: `revoked` is false)."""
    return api.Revoked(revoked=await ctx.users.logout(caller))


@router.get("/v1/whoami")
async def whoami(caller: Caller) -> schema.WhoAmI:
    return schema.WhoAmI(user=caller.name, access=caller.access, expires=caller.expires)


@router.get("/v1/users")
async def list_users(ctx: Context, caller: Caller) -> list[schema.UserInfo]:
    """Every user for a superuser; the caller alone for anyone else."""
    return await ctx.users.users(caller)


@router.post("/v1/users", status_code=201)
async def add_user(
    ctx: Context, caller: Caller, request: schema.AddUserRequest
) -> schema.AddUserResponse:
    await ctx.users.check_controller(caller, "superuser")
    return await ctx.users.add_user(request)


@router.delete("/v1/users/{name}")
async def remove_user(ctx: Context, caller: Caller, name: str) -> api.UserRemoved:
    await ctx.users.check_controller(caller, "superuser")
    await ctx.users.remove_user(name)
    return api.UserRemoved(user=name)


@router.put("/v1/users/{name}/password")
async def set_password(
    ctx: Context, caller: Caller, name: str, request: schema.PasswordRequest
) -> api.PasswordChanged:
    """A user's own password, or anyone's for a superuser; the user's other tokens stop
    working."""
    return api.PasswordChanged(revoked=await ctx.users.set_password(caller, name, request.password))


@router.post("/v1/users/{name}/grant", status_code=204)
async def grant(ctx: Context, caller: Caller, name: str, request: schema.AccessChange) -> None:
    await ctx.users.grant(caller, name, request.level, request.models, request.offers)


@router.post("/v1/users/{name}/revoke", status_code=204)
async def revoke(ctx: Context, caller: Caller, name: str, request: schema.AccessChange) -> None:
    await ctx.users.revoke(caller, name, request.level, request.models, request.offers)
