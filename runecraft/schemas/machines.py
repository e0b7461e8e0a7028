"""API requests and responses for enlisting and removing machines; where containers go."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CONTAINER_CLOUDS",
    "AddMachineRequest",
    "AddMachineResponse",
    "NewMachinesRequest",
    "NewMachinesResponse",
    "RemoveMachineResponse",
]

CONTAINER_CLOUDS = frozenset({"local", "lxd"})
"""Clouds whose machines all live on the controller's host, so an LXD container on that
host (`--to lxd`, a bundle's `lxd:N`) can join their models."""


class AddMachineRequest(BaseModel):
    """Enlist an existing machine over SSH."""

    model_config = ConfigDict(extra="forbid")

    target: str = Field(description="ssh:[user@]host[:port]")
    private_key: str | None = Field(
        default=None, description="Path, on the controller host, of the SSH private key."
    )
    host_key: str | None = Field(
        default=None,
        description="Accept an unknown host key with this SHA256 fingerprint, or any key "
        'with "trust-on-first-use".',
    )
    install_dir: str | None = Field(
        default=None, description="Directory on the machine for Runecraft's files."
    )


class NewMachinesRequest(BaseModel):
    """Juju's `add-machine` with no target (or `lxd`): new machines, kept while empty."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(default=1, ge=1, le=100, description="How many machines (`-n`).")
    substrate: Literal["lxd"] | None = Field(
        default=None, description="`lxd`: LXD containers, instead of the model's cloud."
    )


class NewMachinesResponse(BaseModel):
    machines: list[str]


class AddMachineResponse(BaseModel):
    machine: str
    fingerprint: str
    hostname: str
    address: str


class RemoveMachineResponse(BaseModel):
    machine: str
    outcome: str
    """`removed` (gone now) or `dying` (its units go first)."""
