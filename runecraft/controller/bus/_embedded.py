"""The zero-setup broker: amqtt inside the controller, with Runecraft's credentials and ACL.

The credential check is the broker's own (`_GuardedBroker`), because amqtt drops the
existing session of a client id as soon as it reads a CONNECT, before any plugin ran: a
stranger's CONNECT with a known client id would cut its owner off. Here a CONNECT is
checked first (its client id must be its username, and the credential must verify) and
touches no session unless it passes. The topic ACL (`_acl.allowed`) is applied in-line.

Delivery is `_GuardedBroker`'s too, because amqtt 0.12 loses messages under load:
- its fan-out iterates the live subscription dict across an await per matching subscriber,
  so a client subscribing or leaving meanwhile ends it with "dictionary changed size during
  iteration", skipping the subscribers not yet reached;
- it acknowledges a client's PUBLISH once queued and drops that queue when the client
  disconnects: what a client sends just before it leaves (a departing unit's last logs) is
  acknowledged and lost (about 30 % of a burst in a test);
- its session sweep removes a disconnected session by client id after awaits, so a client
  that reconnected meanwhile loses its new session;
- each delivery is a task that gives up after 5 s without a PUBACK (see `_fanout`).
Here the fan-out is synchronous, a client's last publishes are taken before its disconnect
is handled, sessions are removed by identity, and each connected session has one ordered
outbox. `deliveries` counts what happened to every message; `dropped` stays 0.
What the controller's own session is sent (the agents' messages) is handed to it in process
(`receive_locally`), as what it publishes is (`deliver`): no second TLS hop inside one program.

`stopped` watches that the broker still serves (its listener accepts and its delivery loop
runs), for the controller's `BrokerWatch`; `restart` replaces it with a fresh one.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import structlog
from amqtt.adapters import ReaderAdapter, WriterAdapter
from amqtt.broker import Broker
from amqtt.contexts import Action, ListenerConfig
from amqtt.errors import MQTTError
from amqtt.mqtt.connack import BAD_USERNAME_PASSWORD, IDENTIFIER_REJECTED, ConnackPacket
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.session import ApplicationMessage, Session

from runecraft.controller.bus import _acl, _fanout

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


class _GuardedBroker(Broker):  # type: ignore[misc]
    """amqtt, with the identity and credential of a CONNECT checked before its session, the
    ACL applied in-line, and a fan-out that loses nothing (see the module docstring)."""

    def __init__(
        self,
        config: dict[str, Any],
        verify: _acl.Verifier,
        receivers: Mapping[str, Callable[[str, bytes], None]],
    ) -> None:
        super().__init__(config)
        self._verify = verify
        self.receivers = receivers
        """In-process receivers by client id: what that client's connected session is sent
        while its outbox is idle goes to them instead (`EmbeddedBroker.receive_locally`)."""
        self.deliveries = _fanout.Deliveries()
        self._outboxes: dict[int, _fanout.Outbox] = {}
        """By `id()` of the connected session they serve."""
        self._wildcards: set[str] = set()
        """Subscribed filters with `+` or `#` (exact ones are found by key)."""

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
        await self._replace_session(session.client_id)  # the owner's new connection replaces it
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

    async def _authenticate(self, session: Session, _: ListenerConfig) -> bool:
        """Every session reaching here passed `_initialize_client_session`."""
        del session
        return True

    async def _topic_filtering(self, session: Session, topic: str, action: Action) -> bool:
        """The ACL, in-line (amqtt's plugin call costs a task per check)."""
        return _acl.allowed(session.username, topic, str(action.value))

    async def add_subscription(self, subscription: tuple[str, int], session: Session) -> int:
        """Granted at QoS 1 at most (what the outboxes deliver)."""
        topic_filter, qos = subscription
        if "+" in topic_filter or "#" in topic_filter:
            self._wildcards.add(topic_filter)
        return int(await super().add_subscription((topic_filter, min(qos, 1)), session))

    async def _client_message_loop(
        self, client_session: Session, handler: BrokerProtocolHandler
    ) -> None:
        """Serve one connection with an outbox of its own; when it ends, so does its (clean)
        session: outbox, subscriptions and registration, unless a new connection took over."""
        outbox = _fanout.Outbox(client_session, handler, self.deliveries)
        self._outboxes[id(client_session)] = outbox
        try:
            await self._serve(client_session, handler)
        finally:
            del self._outboxes[id(client_session)]
            await outbox.close()
            self._forget(client_session)

    async def _serve(self, session: Session, handler: BrokerProtocolHandler) -> None:
        """Subscriptions, publishes and the disconnect of one connection, until it ends."""
        gone = asyncio.ensure_future(handler.wait_disconnect())
        subscribing = asyncio.ensure_future(handler.get_next_pending_subscription())
        unsubscribing = asyncio.ensure_future(handler.get_next_pending_unsubscription())
        publishing = asyncio.ensure_future(handler.mqtt_deliver_next_message())
        try:
            while True:
                waiters = [gone, subscribing, unsubscribing, publishing]
                done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                if subscribing in done:
                    await self._handle_subscription(session, handler, subscribing)
                    subscribing = asyncio.ensure_future(handler.get_next_pending_subscription())
                if unsubscribing in done:
                    await self._handle_unsubscription(session, handler, unsubscribing)
                    unsubscribing = asyncio.ensure_future(handler.get_next_pending_unsubscription())
                if publishing in done:
                    if not await self._take_all(session, publishing.result()):
                        await self._stop_handler(handler)  # a protocol violation ends it
                    publishing = asyncio.ensure_future(handler.mqtt_deliver_next_message())
                if gone in done:
                    # What the client published before it left was acknowledged to it.
                    publishing.cancel()
                    await self._take_all(session, await _last_publish(publishing))
                    await self._handle_disconnect(session, handler, gone)
                    return
        finally:
            for waiter in (gone, subscribing, unsubscribing, publishing):
                waiter.cancel()
            await asyncio.gather(
                gone, subscribing, unsubscribing, publishing, return_exceptions=True
            )

    async def _take_all(self, session: Session, message: ApplicationMessage | None) -> bool:
        """Take `message` and whatever else the session has published since, in order;
        False at a message that breaks the protocol."""
        queue = session.delivered_message_queue
        while True:
            if message is not None and not await self._take(session, message):
                return False
            if queue.empty():
                return True
            message = queue.get_nowait()

    async def _take(self, session: Session, message: ApplicationMessage) -> bool:
        """One PUBLISH: checked as amqtt does, allowed by the ACL, fanned out, retained."""
        topic = message.topic
        if not topic or "#" in topic or "+" in topic or topic.startswith("$"):
            logger.warning("bus publish to an invalid topic", client=session.client_id)
            return False
        if not _acl.allowed(session.username, topic, "publish"):
            self.deliveries.refused += 1
            return True
        self._fan_out(topic, bytes(message.data), None)
        if message.publish_packet is not None and message.publish_packet.retain_flag:
            await self.retain_message(session, topic, message.data, message.qos)
        return True

    async def _broadcast_message(
        self,
        session: Session | None,
        topic: str | None,
        data: bytes | bytearray | None,
        force_qos: int | None = None,
    ) -> None:
        """amqtt's other publishes (a will, a plugin's message): through the same fan-out,
        a will only where its client may publish."""
        if topic is None or data is None:
            return
        if session is not None and not _acl.allowed(session.username, topic, "publish"):
            self.deliveries.refused += 1
            return
        self._fan_out(topic, bytes(data), force_qos)

    def _fan_out(self, topic: str, data: bytes, force_qos: int | None) -> None:
        """Queue `data` for every session subscribed to `topic` and allowed to receive it.

        Synchronous: no client can subscribe or leave in the middle (amqtt's own fan-out
        awaits per subscriber while iterating the live subscription dict)."""
        self.deliveries.published += 1
        subscriptions = self._subscriptions
        filters = [topic] if topic in subscriptions else []
        for wildcard in tuple(self._wildcards):
            if not subscriptions.get(wildcard):
                self._wildcards.discard(wildcard)  # a new subscription adds it again
            elif self._matches(topic, wildcard):
                filters.append(wildcard)
        for topic_filter in filters:
            for target, qos in tuple(subscriptions[topic_filter]):
                if not _acl.allowed(target.username, topic, "receive"):
                    continue
                outbox = self._outboxes.get(id(target))
                if outbox is None:  # subscribed, but its connection is ending
                    self.deliveries.attempted += 1
                    self.deliveries.failed += 1
                    continue
                receive = self.receivers.get(target.client_id)
                if receive is not None and outbox.idle:
                    self._hand_over(receive, topic, data)
                    continue
                outbox.put(topic, data, min(qos if force_qos is None else force_qos, 1))

    def _hand_over(self, receive: Callable[[str, bytes], None], topic: str, data: bytes) -> None:
        """Deliver to an in-process receiver within the fan-out: in order, and without TLS,
        MQTT encoding or a PUBACK between two parts of one program."""
        self.deliveries.attempted += 1
        try:
            receive(topic, data)
        except Exception:  # the receiver's fault must not end the publisher's connection
            self.deliveries.failed += 1
            logger.exception("in-process bus delivery failed", topic=topic)
            return
        self.deliveries.delivered += 1
        self.deliveries.local += 1

    async def _replace_session(self, client_id: str) -> None:
        """Disconnect the connection holding `client_id`, if any, and end its session."""
        old = self._sessions.pop(client_id, None)
        if old is not None:
            session, handler = old
            self._drop_subscriptions(session)
            await self._stop_handler(handler)

    def _forget(self, session: Session) -> None:
        """End a session whose connection ended (sessions are clean), unless a new one has
        its client id by now."""
        registered = self._sessions.get(session.client_id)
        if registered is not None and registered[0] is session:
            del self._sessions[session.client_id]
        self._drop_subscriptions(session)

    def _drop_subscriptions(self, session: Session) -> None:
        """This session's subscriptions, by identity (amqtt matches by client id, which
        removes a reconnected client's new subscriptions too)."""
        for topic_filter, subscribers in list(self._subscriptions.items()):
            kept = [entry for entry in subscribers if entry[0] is not session]
            if len(kept) == len(subscribers):
                continue
            if kept:
                subscribers[:] = kept
            else:
                del self._subscriptions[topic_filter]

    async def _session_monitor(self) -> None:
        """amqtt's sweep of disconnected sessions, removing only the very session it found
        (amqtt's removes by client id after awaiting, which can hit a client's new session)."""
        while True:
            gone = [
                (client_id, session)
                for client_id, (session, _) in self._sessions.items()
                if session.transitions.state == "disconnected"
            ]
            for client_id, session in gone:
                registered = self._sessions.get(client_id)
                if registered is not None and registered[0] is session:
                    await self._cleanup_session(client_id)
            await asyncio.sleep(1)

    async def shutdown(self) -> None:
        """Stop amqtt, and every outbox even when that fails (`EmbeddedBroker.restart` goes
        on after a failed shutdown: its outboxes' tasks must not outlive it)."""
        try:
            await super().shutdown()
        finally:
            for outbox in list(self._outboxes.values()):
                await outbox.close()


async def _last_publish(
    publishing: asyncio.Future[ApplicationMessage | None],
) -> ApplicationMessage | None:
    """What a cancelled wait for the next publish had already taken, if anything."""
    results: list[object] = await asyncio.gather(publishing, return_exceptions=True)
    return results[0] if isinstance(results[0], ApplicationMessage) else None


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
        self._config: dict[str, Any] = {"listeners": {"default": listener}, "plugins": {}}
        self._verify = verify
        self._receivers: dict[str, Callable[[str, bytes], None]] = {}
        self._broker = _GuardedBroker(self._config, verify, self._receivers)
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)

    @property
    def deliveries(self) -> _fanout.Deliveries:
        """What became of the messages the running broker took (counted afresh after a
        restart)."""
        return self._broker.deliveries

    async def start(self) -> None:
        await self._broker.start()

    def deliver(self, topic: str, data: bytes) -> bool:
        """Fan a message of the controller's out to its subscribers from inside the process,
        as if the controller's session had published it (the controller may publish
        anywhere): no TLS, MQTT encoding or PUBACK round trip between two parts of one
        program. False when the broker does not serve (the caller sends it again later)."""
        if self.fault() is not None:
            return False
        self._broker._fan_out(topic, data, None)
        return True

    def receive_locally(self, client_id: str, receive: Callable[[str, bytes], None]) -> None:
        """Hand what the connected session of `client_id` (the controller's own) is sent to
        `receive`, called within the fan-out, instead of writing it to that connection: the
        agents' messages reach the controller without a second TLS hop through its own
        client. Only while the session is connected and subscribed (so as MQTT would
        deliver) and its outbox idle (so nothing sent the other way is overtaken)."""
        self._receivers[client_id] = receive

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
        old, self._broker = (
            self._broker,
            _GuardedBroker(self._config, self._verify, self._receivers),
        )
        with contextlib.suppress(Exception):  # a broker that broke may not shut down cleanly
            async with asyncio.timeout(10):
                await old.shutdown()
        for server in old._servers.values():
            if server.instance is not None:
                server.instance.close()
        await self._broker.start()

    async def stop(self) -> None:
        await self._broker.shutdown()
        logger.info("bus broker stopped", **dataclasses.asdict(self.deliveries))
