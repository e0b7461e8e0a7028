"""The zero-setup broker: amqtt inside the controller, with Runecraft's credentials and ACL.

amqtt loads plugins by class path from its config, so the topic plugin is configured by
name; the credential check is the broker's own (`_GuardedBroker`), because amqtt drops the
existing session of a client id as soon as it reads a CONNECT, before any plugin ran: a
stranger's CONNECT with a known client id would cut its owner off. Here a CONNECT is
checked first (its client id must be its username, and the credential must verify) and
touches no session unless it passes.

`stopped` watches that the broker still serves (its listener accepts and its delivery loop
runs), for the controller's `BrokerWatch`; `restart` replaces it with a fresh one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

import structlog
from amqtt.adapters import ReaderAdapter, WriterAdapter
from amqtt.broker import Broker
from amqtt.contexts import Action, ListenerConfig
from amqtt.errors import MQTTError
from amqtt.mqtt.connack import BAD_USERNAME_PASSWORD, IDENTIFIER_REJECTED, ConnackPacket
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.plugins.base import BaseTopicPlugin
from amqtt.session import Session

from runecraft.controller.bus import _acl

__all__ = ["EmbeddedBroker", "refusal"]

logger = structlog.get_logger(__name__)


def refusal(username: str | None, client_id: str | None, clean_session: bool) -> str | None:
    """Why a CONNECT is refused before its credential is even checked (None: it is not).

    The client id is the identity sessions are kept by, so it must be the authenticated
    username; and Runecraft's clients keep no session across connections."""
    if not username:
        return "no username"
    if client_id != username:
        return f'client id "{client_id}" is not the username "{username}"'
    if not clean_session:
        return "persistent sessions are not offered"
    return None


class RunecraftTopicPlugin(BaseTopicPlugin):  # type: ignore[misc]
    """Confines each agent to its own topics."""

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


class _GuardedBroker(Broker):  # type: ignore[misc]
    """amqtt, with the identity and credential of a CONNECT checked before its session."""

    def __init__(self, config: dict[str, Any], verify: _acl.Verifier) -> None:
        super().__init__(config)
        self._verify = verify

    async def _initialize_client_session(
        self, reader: ReaderAdapter, writer: WriterAdapter, remote_address: str, remote_port: int
    ) -> tuple[BrokerProtocolHandler, Session]:
        try:
            handler, session = await BrokerProtocolHandler.init_from_connect(
                reader, writer, self.plugins_manager
            )
        except MQTTError:
            await writer.close()
            raise
        why = refusal(session.username, session.client_id, bool(session.clean_session))
        code = IDENTIFIER_REJECTED
        if why is None and not await self._verified(session):
            why, code = "wrong credential", BAD_USERNAME_PASSWORD
        if why is not None:
            await ConnackPacket.build(0, code).to_stream(writer)
            await writer.close()
            raise MQTTError(f"{remote_address}:{remote_port} refused: {why}")
        await self._delete_session(session.client_id)  # the owner's new connection replaces it
        session.parent = 0
        return handler, session

    async def _verified(self, session: Session) -> bool:
        """Whether the CONNECT's credential verifies; a credential the verifier cannot even
        read (any exception) is a wrong one, so no CONNECT can take a connection slot down."""
        try:
            return await self._verify(session.username, str(session.password or ""))
        except Exception as exc:
            logger.warning("bus credential check failed", user=session.username, error=str(exc))
            return False

    async def _authenticate(self, session: Session, listener: ListenerConfig) -> bool:
        """Every session reaching here passed `_initialize_client_session`."""
        del session, listener
        return True


class EmbeddedBroker:
    """amqtt on `host:port`, started and stopped with the controller; TLS with `tls`, the
    server's certificate and key files."""

    def __init__(
        self, host: str, port: int, verify: _acl.Verifier, tls: tuple[Path, Path] | None = None
    ) -> None:
        self.host = host
        self.port = port
        listener: dict[str, Any] = {
            "type": "tcp",
            "bind": f"{host}:{port}",
            "max_connections": 20000,
        }
        if tls is not None:
            listener.update(ssl=True, certfile=str(tls[0]), keyfile=str(tls[1]))
        self._config: dict[str, Any] = {
            "listeners": {"default": listener},
            "plugins": {f"{__name__}.RunecraftTopicPlugin": {}},
        }
        self._verify = verify
        self._broker = _GuardedBroker(self._config, verify)
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)

    async def start(self) -> None:
        await self._broker.start()

    def fault(self) -> str | None:
        """Why the broker no longer serves (None: it does). amqtt says nothing when its
        listener closes or its delivery loop ends, so its state is read here."""
        broker = self._broker
        if broker.transitions.state != "started":
            return f"the embedded broker is {broker.transitions.state}"
        servers = broker._servers.values()  # amqtt offers no accessor
        if any(s.instance is not None and not s.instance.is_serving() for s in servers):
            return "the embedded broker stopped accepting connections"
        delivery = broker._broadcast_task
        if delivery is not None and delivery.done():
            return "the embedded broker's delivery loop ended"
        return None

    async def stopped(self, interval: float = 1.0) -> str:
        """Return once the broker no longer serves, saying why (checked every `interval`)."""
        while (why := self.fault()) is None:  # noqa: ASYNC110 (amqtt signals nothing)
            await asyncio.sleep(interval)
        logger.warning("embedded broker stopped", why=why)
        return why

    async def restart(self) -> None:
        """Replace the broker with a fresh one on the same address: the old one's clients
        are cut off (they reconnect) and its listener closed first."""
        old, self._broker = self._broker, _GuardedBroker(self._config, self._verify)
        with contextlib.suppress(Exception):  # a broker that broke may not shut down cleanly
            async with asyncio.timeout(10):
                await old.shutdown()
        for server in old._servers.values():
            if server.instance is not None:
                server.instance.close()
        await self._broker.start()

    async def stop(self) -> None:
        await self._broker.shutdown()
