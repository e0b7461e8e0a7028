"""The embedded broker's lossless delivery overrides amqtt internals: an amqtt whose
internals changed must fail loudly at import, not lose messages quietly."""

from __future__ import annotations

import pytest
from amqtt.broker import Broker
from amqtt.mqtt.protocol.handler import ProtocolHandler

from runecraft.controller.bus import _fanout


def test_the_locked_amqtt_has_what_the_broker_relies_on() -> None:
    _fanout.check_amqtt()


def test_a_changed_method_fails_the_import_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    async def changed(self: Broker, client_session: object) -> None:
        del self, client_session

    monkeypatch.setattr(Broker, "_client_message_loop", changed)
    with pytest.raises(ImportError, match=r"Broker\._client_message_loop\('self', 'client_sess"):
        _fanout.check_amqtt()


def test_a_removed_attribute_fails_the_import_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    def handle_puback(self: ProtocolHandler, puback: object) -> None:
        del self, puback

    monkeypatch.setattr(ProtocolHandler, "handle_puback", handle_puback)
    with pytest.raises(ImportError, match=r"handle_puback no longer uses self\._puback_waiters"):
        _fanout.check_amqtt()
