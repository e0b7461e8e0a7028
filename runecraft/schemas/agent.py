"""The machine agent's configuration file, written by a provider at provisioning."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["RUNTIME_BASE", "AgentConfig", "BrokerAddress"]

RUNTIME_BASE = "/run/runecraft"
"""Root-owned, 0711: `<uid>/` below it is a short private dir a provider made for an agent
that runs as that uid (its sockets, which must stay under 108 bytes, go there rather than
in the shared /tmp, where another user could take the name first)."""


class BrokerAddress(BaseModel):
    """Where and as whom an agent connects to the bus."""

    model_config = ConfigDict(extra="forbid")

    host: str
    port: int
    username: str
    password: str
    tls: bool = False
    """Speak MQTT over TLS, verifying the broker against `ca_cert`."""
    ca_cert: str | None = None
    """The controller's CA certificate (PEM): it verifies the controller's https API and,
    with `tls`, the broker."""


class AgentConfig(BaseModel):
    """Everything a machine agent needs; stored 0600 as `agent.json` in the machine dir."""

    model_config = ConfigDict(extra="forbid")

    agent: str
    """Agent name: also the bus username and the topic name."""
    model_name: str
    model_uuid: str
    machine_id: str
    data_dir: str
    """The machine's directory: unit directories live under it."""
    broker: BrokerAddress
    api_url: str
    """Controller HTTP API, used to fetch charm blobs."""
    api_token: str
    """The agent's own API credential (same secret as its bus password)."""
