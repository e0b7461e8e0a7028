"""How a bus session ends: a dropped connection is one plain `MqttError` for the reconnect
policy, however many of the session's tasks saw it; anything else is not swallowed."""

from __future__ import annotations

import aiomqtt
import pytest

from runecraft.bus._client import lost_connection

DROPPED = aiomqtt.MqttError("Disconnected during message iteration")
PUBLISH = aiomqtt.MqttError("publish failed")


@pytest.mark.parametrize(
    ("errors", "expected"),
    [
        pytest.param([DROPPED], DROPPED, id="reading"),
        pytest.param([DROPPED, PUBLISH], DROPPED, id="reading-and-publishing"),
        pytest.param([DROPPED, ValueError("bug")], None, id="a-bug-too"),
        pytest.param([KeyError("bug")], None, id="a-bug"),
    ],
)
def test_lost_connection(errors: list[Exception], expected: Exception | None) -> None:
    assert lost_connection(ExceptionGroup("session", errors)) is expected
