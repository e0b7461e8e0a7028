"""Bus isolation on both managed brokers: one agent's credential cannot take another
agent's connection over, whatever client id it claims."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest

from runecraft.controller import bus
from tests.conftest import free_port

from . import _brokers
from ._brokers import AGENT, AGENT_PASSWORD, CONTROLLER_PASSWORD, OTHER, OTHER_PASSWORD


@pytest.fixture(params=_brokers.KINDS)
async def broker(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[int]:
    port = free_port()
    async with _brokers.running(request.param, port, tmp_path):
        yield port


def _client(port: int, user: str, password: str, identifier: str) -> aiomqtt.Client:
    return aiomqtt.Client(
        "127.0.0.1", port, username=user, password=password, identifier=identifier
    )


async def _receives(agent: aiomqtt.Client, controller: aiomqtt.Client, payload: bytes) -> None:
    await controller.publish(f"agents/{AGENT}/down", payload, qos=1)
    async with asyncio.timeout(10):
        message = await anext(aiter(agent.messages))
    assert message.payload == payload


async def test_isolation_client_id_takeover_leaves_the_owner_connected(
    broker: int, request: pytest.FixtureRequest
) -> None:
    """Another agent's credential with the victim's client id: the embedded broker refuses
    the CONNECT (identifier rejected); mosquitto takes the id from the username, so the
    stranger is only itself. Either way the victim keeps receiving."""
    async with (
        _client(broker, bus.CONTROLLER_USER, CONTROLLER_PASSWORD, bus.CONTROLLER_USER) as ctl,
        _client(broker, AGENT, AGENT_PASSWORD, AGENT) as victim,
    ):
        await victim.subscribe(f"agents/{AGENT}/down", qos=1)
        await _receives(victim, ctl, b"before")
        if "embedded" in request.node.callspec.id:
            with pytest.raises(aiomqtt.MqttCodeError, match="identifier not valid"):
                async with _client(broker, OTHER, OTHER_PASSWORD, AGENT):
                    pytest.fail("the broker took another agent's client id")
        else:
            async with _client(broker, OTHER, OTHER_PASSWORD, AGENT) as stranger:
                await stranger.subscribe(f"agents/{AGENT}/down", qos=1)
                await _receives(victim, ctl, b"during")
        await _receives(victim, ctl, b"after")


async def test_isolation_a_wrong_password_with_the_owners_id_changes_nothing(
    broker: int,
) -> None:
    async with (
        _client(broker, bus.CONTROLLER_USER, CONTROLLER_PASSWORD, bus.CONTROLLER_USER) as ctl,
        _client(broker, AGENT, AGENT_PASSWORD, AGENT) as victim,
    ):
        await victim.subscribe(f"agents/{AGENT}/down", qos=1)
        with pytest.raises(aiomqtt.MqttCodeError):
            async with _client(broker, AGENT, "wrong", AGENT):
                pytest.fail("the broker took a wrong password")
        await _receives(victim, ctl, b"after")
