"""The controller's side of the bus: the broker (embedded amqtt or a managed mosquitto) and
its watch (`BrokerWatch`, which has it started again when it stops), the topic ACL, and
`ControllerBus`, the controller's messages over `runecraft.bus.BusClient`."""

from __future__ import annotations

from runecraft.controller.bus._acl import CONTROLLER_USER, allowed
from runecraft.controller.bus._client import ControllerBus
from runecraft.controller.bus._embedded import EmbeddedBroker
from runecraft.controller.bus._mosquitto import ManagedMosquitto
from runecraft.controller.bus._watch import BrokerStopped, BrokerWatch

__all__ = [
    "CONTROLLER_USER",
    "BrokerStopped",
    "BrokerWatch",
    "ControllerBus",
    "EmbeddedBroker",
    "ManagedMosquitto",
    "allowed",
]
