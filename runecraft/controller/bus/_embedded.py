"""The zero-setup broker: amqtt inside the controller, with Runecraft's credentials and ACL.

amqtt loads plugins by class path from its config, so the plugins find their verifier
through a registry keyed by a per-broker id.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from runecraft.controller.bus import _acl

__all__ = ["EmbeddedBroker"]

_REGISTRY: dict[str, _acl.Verifier] = {}


class RunecraftAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]
    """Accepts a connection only with a username and password the controller issued."""

    @dataclass
    class Config:
        registry: str = field(default="")

    async def authenticate(self, *, session: Session) -> bool | None:
        registry = str(getattr(self.context.config, "registry", ""))
        verify = _REGISTRY.get(registry)
        if verify is None or not session.username or session.password is None:
            return False
        return await verify(session.username, str(session.password))


class RunecraftTopicPlugin(BaseTopicPlugin):  # type: ignore[misc]
    """Confines each agent to its own topics."""

    @dataclass
    class Config:
        registry: str = field(default="")

    async def topic_filtering(
        self,
        *,
        session: Session | None = None,
        topic: str | None = None,
        action: Action | None = None,
    ) -> bool | None:
        if session is None or topic is None or action is None:
            return False
        return _acl.allowed(session.username, topic, str(action.value))


class EmbeddedBroker:
    """amqtt on `host:port`, started and stopped with the controller."""

    def __init__(self, host: str, port: int, verify: _acl.Verifier) -> None:
        self.host = host
        self.port = port
        self._id = uuid.uuid4().hex
        _REGISTRY[self._id] = verify
        config: dict[str, Any] = {
            "listeners": {
                "default": {"type": "tcp", "bind": f"{host}:{port}", "max_connections": 20000}
            },
            "plugins": {
                f"{__name__}.RunecraftAuthPlugin": {"registry": self._id},
                f"{__name__}.RunecraftTopicPlugin": {"registry": self._id},
            },
        }
        self._broker = Broker(config)
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)

    async def start(self) -> None:
        await self._broker.start()

    async def stop(self) -> None:
        try:
            await self._broker.shutdown()
        finally:
            _REGISTRY.pop(self._id, None)
