"""One plain MQTT connection for request/answer exchanges over topics (a broker's admin
API, such as mosquitto's dynamic security): no reconnects and no outbox, since the caller
runs a few commands and is done; aiomqtt's errors become `errors.TemporaryError` here."""

from __future__ import annotations

import asyncio
import contextlib

import aiomqtt

from runecraft import errors
from runecraft.bus._client import Broker

__all__ = ["Exchange"]


class Exchange:
    """Connected while the `async with` block runs; answers arrive on `answers`."""

    def __init__(self, broker: Broker, *, client_id: str, answers: str) -> None:
        self._answers = answers
        self._where = f"{broker.host}:{broker.port}"
        self._client = aiomqtt.Client(
            broker.host,
            broker.port,
            username=broker.username,
            password=broker.password,
            identifier=client_id,
            protocol=aiomqtt.ProtocolVersion.V311,
            tls_context=broker.tls,
        )

    async def __aenter__(self) -> Exchange:
        try:
            await self._client.__aenter__()
            await self._client.subscribe(self._answers, qos=1)
        except aiomqtt.MqttError as exc:
            raise errors.TemporaryError(f"cannot reach the broker at {self._where}: {exc}") from exc
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(aiomqtt.MqttError):  # the broker may have dropped us
            await self._client.__aexit__(None, None, None)

    async def send(self, topic: str, payload: bytes) -> None:
        """Publish once the broker has it (QoS 1)."""
        try:
            await self._client.publish(topic, payload, qos=1)
        except aiomqtt.MqttError as exc:
            raise errors.TemporaryError(f"the broker at {self._where} dropped us: {exc}") from exc

    async def ask(self, topic: str, payload: bytes, timeout: float) -> bytes | None:
        """Publish, then the next answer; None if none came within `timeout` seconds."""
        await self.send(topic, payload)
        try:
            async with asyncio.timeout(timeout):
                async for message in self._client.messages:
                    if isinstance(message.payload, bytes | bytearray):
                        return bytes(message.payload)
        except TimeoutError:
            return None
        except aiomqtt.MqttError as exc:
            raise errors.TemporaryError(f"the broker at {self._where} dropped us: {exc}") from exc
        return None
