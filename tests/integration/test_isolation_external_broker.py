"""An external broker: agents never get the controller's credential. The controller has
the broker (mosquitto's dynamic-security plugin) make one client per agent, confined to its
own topics; a broker that cannot do that is refused at bootstrap."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiomqtt
import pytest
import yaml

from runecraft import errors
from runecraft.controller import bus
from runecraft.controller.bus import _dynsec
from tests.conftest import free_port
from tests.integration.conftest import EXAMPLES, Rune, until

from . import _brokers
from ._brokers import CONTROLLER_PASSWORD

pytestmark = pytest.mark.skipif(
    _brokers.DYNSEC_PLUGIN is None, reason="mosquitto's dynamic-security plugin is not installed"
)

AGENT = "machine-7.isolation"
OTHER = "machine-8.isolation"


def _url(port: int) -> str:
    return f"mqtt://{bus.CONTROLLER_USER}:{CONTROLLER_PASSWORD}@127.0.0.1:{port}"


async def test_isolation_external_broker_without_dynsec_is_refused_at_bootstrap(
    rune: Rune, tmp_path: Path
) -> None:
    port = free_port()
    async with _brokers.running("mosquitto", port, tmp_path):  # a password file, no plugin
        result = await asyncio.to_thread(rune, "bootstrap", "--broker", _url(port), check=False)
    assert result.returncode != 0
    assert "does not answer dynamic-security commands" in result.stderr
    assert "--broker mosquitto" in result.stderr
    assert not (rune.home / "controller").exists()
    assert not (rune.home / "client.yaml").exists()


def _admin(port: int, role_prefix: str = "runecraft-agent-") -> _dynsec.Dynsec:
    return _dynsec.Dynsec(
        "127.0.0.1", port, bus.CONTROLLER_USER, CONTROLLER_PASSWORD, role_prefix=role_prefix
    )


def _agent(port: int, user: str, password: str, identifier: str | None = None) -> aiomqtt.Client:
    return aiomqtt.Client(
        "127.0.0.1", port, username=user, password=password, identifier=identifier or user
    )


async def test_isolation_dynsec_agents_are_confined_to_their_topics_and_removed(
    tmp_path: Path,
) -> None:
    port = free_port()
    async with _brokers.dynsec_mosquitto(port, tmp_path):
        await _dynsec.probe("127.0.0.1", port, bus.CONTROLLER_USER, CONTROLLER_PASSWORD)
        async with _admin(port) as dynsec:
            await dynsec.add_agent(AGENT, "agent-pw")
            await dynsec.add_agent(OTHER, "other-pw")
            assert {AGENT, OTHER} <= await dynsec.agents()
        async with (
            _agent(port, bus.CONTROLLER_USER, CONTROLLER_PASSWORD) as controller,
            _agent(port, AGENT, "agent-pw") as agent,
        ):
            await controller.subscribe("agents/+/up", qos=1)
            await agent.subscribe(f"agents/{OTHER}/down", qos=1)  # refused by its role
            await agent.subscribe(f"agents/{AGENT}/down", qos=1)
            await agent.publish(f"agents/{OTHER}/up", b"forged", qos=1)
            await agent.publish(f"agents/{AGENT}/up", b"genuine", qos=1)
            async with asyncio.timeout(10):
                message = await anext(aiter(controller.messages))
            assert (str(message.topic), message.payload) == (f"agents/{AGENT}/up", b"genuine")
            await controller.publish(f"agents/{OTHER}/down", b"not yours", qos=1)
            await controller.publish(f"agents/{AGENT}/down", b"yours", qos=1)
            async with asyncio.timeout(10):
                message = await anext(aiter(agent.messages))
            assert message.payload == b"yours"
            with pytest.raises(aiomqtt.MqttCodeError):  # its own password, another's id
                async with _agent(port, OTHER, "other-pw", identifier=AGENT):
                    pytest.fail("the broker took another agent's client id")
            await controller.publish(f"agents/{AGENT}/down", b"still yours", qos=1)
            async with asyncio.timeout(10):
                message = await anext(aiter(agent.messages))
            assert message.payload == b"still yours"

        async with _admin(port) as dynsec:
            await dynsec.remove_agents([AGENT])
            assert AGENT not in await dynsec.agents()
        with pytest.raises(aiomqtt.MqttCodeError):
            async with _agent(port, AGENT, "agent-pw"):
                pytest.fail("a removed agent still connects")


async def test_isolation_an_unreachable_dynsec_broker_names_the_cause(tmp_path: Path) -> None:
    with pytest.raises(errors.TemporaryError, match="cannot reach the broker"):
        async with _admin(free_port()):
            pytest.fail("connected to nothing")


async def test_isolation_external_broker_agents_hold_their_own_credential(
    rune: Rune, tmp_path: Path
) -> None:
    port = free_port()
    async with _brokers.dynsec_mosquitto(port, tmp_path / "broker"):
        await asyncio.to_thread(rune, "bootstrap", "--broker", _url(port))
        await asyncio.to_thread(rune, "deploy", str(EXAMPLES / "hello-bash"))
        await asyncio.to_thread(rune, "wait", "--timeout", "5m")
        status = await asyncio.to_thread(rune.status)
        unit = status["applications"]["hello-bash"]["units"]["hello-bash/0"]
        assert unit["workload-status"]["current"] == "active"
        configs = list((rune.home / "machines").glob("*/*/agent.json"))
        assert configs
        for path in configs:
            config = json.loads(path.read_text())
            assert config["broker"]["username"] == config["agent"]
            assert CONTROLLER_PASSWORD not in path.read_text()
        controller = yaml.safe_load((rune.home / "controller" / "controller.yaml").read_text())
        prefix = _dynsec.role_prefix(controller["uuid"])
        async with _admin(port, prefix) as dynsec:
            on_broker = await dynsec.agents()
        assert on_broker == {json.loads(p.read_text())["agent"] for p in configs}

        # The machine goes (remove-machine waits until it is gone): so does its client.
        await asyncio.to_thread(rune, "remove-machine", "0", "--force")

        async def on_broker_now() -> set[str]:
            async with _admin(port, prefix) as dynsec:
                return await dynsec.agents()

        def removed() -> bool:  # the controller removes it right after the machine
            return not asyncio.run(on_broker_now())

        await asyncio.to_thread(until, rune, "default", "the agent's client removed", removed)
