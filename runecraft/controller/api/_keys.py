"""A model's authorized SSH keys (`ssh-keys`, `add-ssh-key`, `remove-ssh-key`; changing
them needs model admin, as in Juju) and the config new models start with
(`model-defaults`; superusers only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from runecraft import errors
from runecraft.controller import services
from runecraft.controller.api._deps import MODEL_ADMIN, ApiContext, Context

__all__ = ["defaults", "router"]

router = APIRouter()
"""Model routes (read for listing; the changes ask for admin themselves)."""
defaults = APIRouter()
"""Superusers' routes."""


class SshKeys(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: list[str] = Field(min_length=1, description="`authorized_keys` lines to add.")


class SshKeyIds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[str] = Field(min_length=1, description="Fingerprints or comments of keys.")


class SshKeyInfo(BaseModel):
    fingerprint: str
    comment: str
    key: str


class ModelDefaultsChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    values: dict[str, Any] = Field(default_factory=dict)
    reset: list[str] = Field(default_factory=list)


def _keys(ctx: ApiContext) -> services.AuthorizedKeyService:
    if ctx.ssh_keys is None:
        raise errors.PermanentError("this controller keeps no ssh keys")
    return ctx.ssh_keys


def _infos(keys: list[Any]) -> list[SshKeyInfo]:
    return [SshKeyInfo(fingerprint=k.fingerprint, comment=k.comment, key=k.line) for k in keys]


@router.get("/v1/models/{model}/ssh-keys")
async def list_keys(ctx: Context, model: str) -> list[SshKeyInfo]:
    return _infos(await _keys(ctx).keys(model))


@router.post("/v1/models/{model}/ssh-keys", status_code=201, dependencies=[MODEL_ADMIN])
async def add_keys(ctx: Context, model: str, request: SshKeys) -> list[SshKeyInfo]:
    return _infos(await _keys(ctx).add(model, request.keys))


@router.post("/v1/models/{model}/ssh-keys/remove", dependencies=[MODEL_ADMIN])
async def remove_keys(ctx: Context, model: str, request: SshKeyIds) -> list[SshKeyInfo]:
    await _keys(ctx).remove(model, request.ids)
    return _infos(await _keys(ctx).keys(model))


@defaults.get("/v1/controller/model-defaults")
async def model_defaults(ctx: Context) -> dict[str, Any]:
    return await ctx.models.model_defaults()


@defaults.patch("/v1/controller/model-defaults")
async def change_model_defaults(ctx: Context, request: ModelDefaultsChange) -> dict[str, Any]:
    return await ctx.models.set_model_defaults(request.values, request.reset)
