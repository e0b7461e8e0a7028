"""The MQTT edge shared by the controller and the agents.

`BusClient` is the one MQTT client of Runecraft: it connects to a `Broker`, subscribes,
publishes through a bounded outbox, and reconnects with the one retry policy when the broker
goes away. `Exchange` is a one-off connection for request/answer commands. aiomqtt (and
paho under it) is imported here and nowhere else; the broker side (embedded amqtt, managed
mosquitto, ACLs) is the controller's (`runecraft.controller.bus`).
"""

from __future__ import annotations

from runecraft.bus._client import RECONNECT, Broker, BusClient, OnConnect, OnMessage
from runecraft.bus._exchange import Exchange

__all__ = ["RECONNECT", "Broker", "BusClient", "Exchange", "OnConnect", "OnMessage"]
