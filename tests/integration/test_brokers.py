"""Both brokers for real: credentials issued by Runecraft, refused when wrong, and the topic
ACL that confines an agent to its own topics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest

from runecraft.controller import _passwords, bus
from tests.conftest import free_port

from . import _brokers
from ._brokers import AGENT, AGENT_PASSWORD, CONTROLLER_PASSWORD


@pytest.fixture(params=_brokers.KINDS)
async def broker(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[int]:
    port = free_port()
    async with _brokers.running(request.param, port, tmp_path):
        yield port


def _client(port: int, user: str, password: str) -> aiomqtt.Client:
    return aiomqtt.Client("127.0.0.1", port, username=user, password=password, identifier=user)


async def test_wrong_password_is_refused(broker: int) -> None:
    with pytest.raises(aiomqtt.MqttError):
        async with _client(broker, AGENT, "wrong"):
            pytest.fail("the broker took a wrong password")
    with pytest.raises(aiomqtt.MqttError):
        async with _client(broker, "stranger", AGENT_PASSWORD):
            pytest.fail("the broker took a user it does not know")


async def test_agent_talks_only_on_its_own_topics(broker: int) -> None:
    async with (
        _client(broker, bus.CONTROLLER_USER, CONTROLLER_PASSWORD) as controller,
        _client(broker, AGENT, AGENT_PASSWORD) as agent,
    ):
        await controller.subscribe("agents/+/up", qos=1)
        # A forbidden publish, then an allowed one: the controller must see only the second.
        await agent.publish("agents/machine-9.model/up", b"forged", qos=1)
        await agent.publish(f"agents/{AGENT}/up", b"genuine", qos=1)
        async with asyncio.timeout(10):
            message = await anext(aiter(controller.messages))
        assert (str(message.topic), message.payload) == (f"agents/{AGENT}/up", b"genuine")

        await agent.subscribe(f"agents/{AGENT}/down", qos=1)
        await agent.subscribe("agents/machine-9.model/down", qos=1)
        await controller.publish("agents/machine-9.model/down", b"not yours", qos=1)
        await controller.publish(f"agents/{AGENT}/down", b"yours", qos=1)
        async with asyncio.timeout(10):
            message = await anext(aiter(agent.messages))
        assert message.payload == b"yours"


def test_password_hash_round_trip() -> None:
    stored = _passwords.hash_password("s3cret")
    assert stored.startswith("$7$101$")
    assert _passwords.verify_password("s3cret", stored)
    assert not _passwords.verify_password("other", stored)
    assert not _passwords.verify_password("s3cret", None)
    assert not _passwords.verify_password("s3cret", "garbage")
