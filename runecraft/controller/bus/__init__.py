"""The bus edge of the controller: MQTT client, embedded broker, managed mosquitto."""

from __future__ import annotations

from runecraft.controller.bus._acl import CONTROLLER_USER, allowed
from runecraft.controller.bus._client import ControllerBus
from runecraft.controller.bus._embedded import EmbeddedBroker
from runecraft.controller.bus._mosquitto import ManagedMosquitto

__all__ = ["CONTROLLER_USER", "ControllerBus", "EmbeddedBroker", "ManagedMosquitto", "allowed"]
