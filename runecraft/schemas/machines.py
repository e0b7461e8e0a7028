"""API requests and responses for enlisting and removing machines; where containers go."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CONTAINER_CLOUDS", "AddMachineRequest", "AddMachineResponse", "RemoveMachineResponse"]

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


class AddMachineResponse(BaseModel):
    machine: str
    fingerprint: str
    hostname: str
    address: str


class RemoveMachineResponse(BaseModel):
    machine: str
    outcome: str
    """`removed` (gone now) or `dying` (its units go first)."""
