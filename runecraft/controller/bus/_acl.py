"""Who may do what on the bus: the one ACL, used by the embedded broker and written out for
mosquitto."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

__all__ = ["CONTROLLER_USER", "MOSQUITTO_ACL", "Verifier", "allowed"]

CONTROLLER_USER = "controller"

Verifier = Callable[[str, str], Awaitable[bool]]
"""`(username, password) -> ok`: checks a credential against the database."""

MOSQUITTO_ACL = f"""user {CONTROLLER_USER}
topic readwrite #

pattern read agents/%u/down
pattern write agents/%u/up
"""


def allowed(username: str | None, topic: str, action: str) -> bool:
    """The controller may do anything; an agent only reads its `down` and writes its `up`."""
    if username == CONTROLLER_USER:
        return True
    if not username:
        return False
    if action in {"subscribe", "receive"}:
        return topic == f"agents/{username}/down"
    if action == "publish":
        return topic == f"agents/{username}/up"
    return False
