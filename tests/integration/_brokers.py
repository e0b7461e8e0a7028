"""Both brokers for real, on a port the test chose: the controller's embedded amqtt and a
managed mosquitto, each with Runecraft's credentials and topic ACL. A test may stop one and
start it again on the same port, as a broker restart."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from runecraft.controller import _passwords, bus

KINDS = ["embedded", "mosquitto"]

AGENT = "machine-0.model"
AGENT_PASSWORD = "agent-secret"
OTHER = "machine-1.model"
OTHER_PASSWORD = "other-secret"
CONTROLLER_PASSWORD = "controller-secret"


def hashes() -> Mapping[str, str]:
    """The stored credentials of the controller and of two agents, `AGENT` and `OTHER`."""
    return {
        bus.CONTROLLER_USER: _passwords.hash_password(CONTROLLER_PASSWORD),
        AGENT: _passwords.hash_password(AGENT_PASSWORD),
        OTHER: _passwords.hash_password(OTHER_PASSWORD),
    }


@asynccontextmanager
async def running(kind: str, port: int, directory: Path) -> AsyncIterator[None]:
    """Run a broker of `kind` on 127.0.0.1:`port` until the block ends."""
    stored = hashes()
    if kind == "embedded":

        async def verify(user: str, password: str) -> bool:
            return _passwords.verify_password(password, stored.get(user))

        embedded = bus.EmbeddedBroker("127.0.0.1", port, verify)
        await embedded.start()
        try:
            yield
        finally:
            await embedded.stop()
    else:
        mosquitto = bus.ManagedMosquitto(directory / "mosquitto", "127.0.0.1", port)
        await mosquitto.start(stored.items())
        try:
            yield
        finally:
            await mosquitto.stop()
