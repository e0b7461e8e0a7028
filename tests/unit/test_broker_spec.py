"""`--broker` specs: what bootstrap accepts, and the external brokers it refuses."""

from __future__ import annotations

import pytest

from runecraft import errors
from runecraft.controller._lifecycle import parse_broker


@pytest.mark.parametrize(
    ("spec", "kind", "host", "port"),
    [
        ("mqtt://u:p@127.0.0.1:1883", "external", "127.0.0.1", 1883),
        ("mqtt://u:p@localhost:1884", "external", "localhost", 1884),
        ("mqtt://u:p@[::1]:1885", "external", "::1", 1885),
        ("mosquitto:1999", "mosquitto", "127.0.0.1", 1999),
    ],
)
def test_brokers_on_this_host_are_accepted(spec: str, kind: str, host: str, port: int) -> None:
    broker = parse_broker(spec, "127.0.0.1")
    assert (broker.kind, broker.host, broker.port) == (kind, host, port)


@pytest.mark.parametrize(
    "spec",
    [
        "mqtt://u:p@192.0.2.1:1883",
        "mqtt://u:p@broker.example:1883",
        "mqtt://u:p@[2001:db8::1]:1883",
    ],
)
def test_isolation_a_plain_external_broker_off_loopback_is_refused(spec: str) -> None:
    """The bus to an external broker is plain MQTT: credentials would cross a network."""
    with pytest.raises(errors.InvalidSpecError, match="is not on loopback"):
        parse_broker(spec, "127.0.0.1")


@pytest.mark.parametrize("spec", ["mqtt://nohost", "mosquitto:x", "amqp://h:1"])
def test_malformed_broker_specs_name_the_spec(spec: str) -> None:
    with pytest.raises(errors.InvalidSpecError, match="invalid broker"):
        parse_broker(spec, "127.0.0.1")
