"""Requests and responses of the controller's HTTP API (the OpenAPI document is made from
these)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AddModelRequest",
    "AddUnitsRequest",
    "CharmInfo",
    "ConfigRequest",
    "ControllerInfo",
    "DeployRequest",
    "ErrorBody",
    "ErrorDetail",
    "ModelInfo",
    "RemoveUnitsRequest",
    "UnitsResponse",
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AddModelRequest(_Request):
    name: str = Field(min_length=1, max_length=63)
    cloud: str = "local"
    config: dict[str, Any] = Field(default_factory=dict)


class ModelInfo(BaseModel):
    name: str
    uuid: str
    cloud: str
    life: str
    revision: int


class DeployRequest(_Request):
    application: str = Field(min_length=1, max_length=63)
    charm_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    num_units: int = Field(default=1, ge=0, le=10000)
    config: dict[str, Any] = Field(default_factory=dict)
    to: list[str] = Field(default_factory=list)


class AddUnitsRequest(_Request):
    num_units: int = Field(default=1, ge=1, le=10000)
    to: list[str] = Field(default_factory=list)


class RemoveUnitsRequest(_Request):
    units: list[str] = Field(min_length=1)


class ConfigRequest(_Request):
    values: dict[str, Any] = Field(default_factory=dict)
    reset: list[str] = Field(default_factory=list)


class UnitsResponse(BaseModel):
    units: list[str]


class CharmInfo(BaseModel):
    sha256: str
    name: str
    size: int


class ControllerInfo(BaseModel):
    name: str
    uuid: str
    version: str
    agent_version: str
    broker: str


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail
