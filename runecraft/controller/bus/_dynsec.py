"""An external broker's agents, through mosquitto's dynamic-security plugin.

With a broker the user runs, the controller cannot write a password file: it asks the
broker instead, over `$CONTROL/dynamic-security/v1`, to make one client per agent with the
agent's own password and a role confining it to `agents/<name>/up` (publish) and
`agents/<name>/down` (subscribe), and to remove both when the machine goes. A broker that
does not answer these commands would leave every agent with the controller's own
credential, so bootstrap refuses it (`probe`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import structlog

from runecraft import bus as mqtt
from runecraft import errors

__all__ = ["CONTROL", "Dynsec", "ExternalAgents", "probe", "role_prefix"]

logger = structlog.get_logger(__name__)

CONTROL = "$CONTROL/dynamic-security/v1"
ANSWER_TIMEOUT = 5.0
"""Seconds to wait for the plugin's answer; a broker without it never answers."""


def role_prefix(controller_uuid: str) -> str:
    """What the roles of one controller's agents start with (a broker may serve several)."""
    return f"runecraft-{controller_uuid[:8]}-"


def _agent_role(rolename: str, agent: str) -> dict[str, Any]:
    """The `createRole` command for one agent's topics."""
    return {
        "command": "createRole",
        "rolename": rolename,
        "acls": [
            {"acltype": "publishClientSend", "topic": f"agents/{agent}/up", "allow": True},
            {"acltype": "subscribeLiteral", "topic": f"agents/{agent}/down", "allow": True},
            {"acltype": "publishClientReceive", "topic": f"agents/{agent}/down", "allow": True},
        ],
    }


class Dynsec:
    """One connection to the broker as the controller, sending dynamic-security commands."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        password: str,
        tls: ssl.SSLContext | None = None,
        *,
        role_prefix: str = "runecraft-agent-",
    ) -> None:
        self.role_prefix = role_prefix
        """Names the roles of this controller's agents (the broker may serve others)."""
        # A client id of its own: two sessions of one admin user (two controllers on one
        # broker, or an operator's tool) would otherwise take over each other's session.
        self._exchange = mqtt.Exchange(
            mqtt.Broker(host, port, username, password, tls),
            client_id=f"{username}-dynsec-{secrets.token_hex(4)}",
            answers=f"{CONTROL}/response",
        )
        self._where = f"{host}:{port}"

    async def __aenter__(self) -> Dynsec:
        await self._exchange.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._exchange.__aexit__()

    async def send(self, commands: list[dict[str, Any]]) -> None:
        await self._exchange.send(CONTROL, json.dumps({"commands": commands}).encode())

    async def run(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send `commands`; their answers, in order (an answer may carry an `error`)."""
        payload = json.dumps({"commands": commands}).encode()
        answer = await self._exchange.ask(CONTROL, payload, ANSWER_TIMEOUT)
        if answer is None:
            raise errors.PermanentError(
                f"the broker at {self._where} does not answer dynamic-security commands on "
                f"{CONTROL}: agents would all share the controller's credential. Load "
                "mosquitto's dynamic-security plugin (plugin mosquitto_dynamic_security.so) "
                "and give the controller's broker user its admin role, or bootstrap with "
                "--broker mosquitto"
            )
        return list(json.loads(answer).get("responses", []))

    async def agents(self) -> set[str]:
        """The agents this broker has a client for (by their role)."""
        (answer,) = await self.run([{"command": "listRoles", "verbose": False, "count": -1}])
        roles = answer.get("data", {}).get("roles", [])
        prefix = self.role_prefix
        return {r[len(prefix) :] for r in roles if r.startswith(prefix)}

    async def add_agent(self, agent: str, password: str) -> None:
        """A client `agent` with `password`, confined to its own topics; one that already
        exists gets `password`."""
        role = self.role_prefix + agent
        answers = await self.run(
            [
                _agent_role(role, agent),
                {
                    "command": "createClient",
                    "username": agent,
                    "password": password,
                    "clientid": agent,
                    "roles": [{"rolename": role}],
                },
                {"command": "setClientPassword", "username": agent, "password": password},
            ]
        )
        _check(answers, allowed={"Role already exists", "Client already exists"})

    async def remove_agents(self, agents: Iterable[str]) -> None:
        commands: list[dict[str, Any]] = []
        for agent in agents:
            commands.append({"command": "deleteClient", "username": agent})
            commands.append({"command": "deleteRole", "rolename": self.role_prefix + agent})
        if commands:
            _check(await self.run(commands), allowed={"Client not found", "Role not found"})


class ExternalAgents:
    """Keeps the external broker's agent clients in step with the machines: one made when
    an agent gets its password (`issue`), removed once its machine has no credential."""

    def __init__(
        self, connect: Callable[[], Dynsec], known: Callable[[], Awaitable[set[str]]]
    ) -> None:
        self._connect = connect
        self._known = known
        self._pending: dict[str, str] = {}
        self._wake = asyncio.Event()

    def issue(self, agent: str, password: str) -> None:
        self._pending[agent] = password
        self._wake.set()

    def changed(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Until cancelled (a broker error ends it; the supervisor starts it again)."""
        async with self._connect() as dynsec:
            while True:
                self._wake.clear()
                for agent, password in list(self._pending.items()):
                    await dynsec.add_agent(agent, password)
                    if self._pending.get(agent) == password:
                        del self._pending[agent]
                gone = await dynsec.agents() - await self._known() - set(self._pending)
                await dynsec.remove_agents(sorted(gone))
                if gone:
                    logger.info("agents removed from the broker", agents=sorted(gone))
                await self._wake.wait()


def _check(answers: list[dict[str, Any]], allowed: set[str], hint: str = "") -> None:
    """Raise on the first answer whose error is not one of `allowed` (`hint`: the fix)."""
    for answer in answers:
        error = answer.get("error")
        if error and error not in allowed:
            raise errors.PermanentError(
                f"the broker refused {answer.get('command')} ({error}){hint}"
            )


CONTROLLER_ROLE = "runecraft-controller"
_CONTROLLER_ROLE = {
    "command": "createRole",
    "rolename": CONTROLLER_ROLE,
    "acls": [
        {"acltype": "publishClientSend", "topic": "agents/+/down", "allow": True},
        {"acltype": "subscribePattern", "topic": "agents/+/up", "allow": True},
        {"acltype": "publishClientReceive", "topic": "agents/+/up", "allow": True},
    ],
}


def _admin_hint(host: str, port: int, username: str) -> str:
    return f" at {host}:{port}: give the broker user {username!r} the dynamic-security admin role"


async def probe(host: str, port: int, username: str, password: str) -> None:
    """Refuse a broker that does not answer dynamic-security commands as `username`; on one
    that does, give `username` the controller's own topics (every agent's `down` to publish,
    every `up` to read). The plugin drops a client whose roles change, so the role is added
    on one connection and checked on the next."""
    async with Dynsec(host, port, username, password) as dynsec:
        answers = await dynsec.run([_CONTROLLER_ROLE])
        _check(answers, {"Role already exists"}, _admin_hint(host, port, username))
        with contextlib.suppress(errors.TemporaryError):  # the plugin drops us right away
            await dynsec.send(
                [{"command": "addClientRole", "username": username, "rolename": CONTROLLER_ROLE}]
            )
    async with Dynsec(host, port, username, password) as dynsec:
        answers = await dynsec.run([{"command": "getClient", "username": username}])
    _check(answers, set(), _admin_hint(host, port, username))
    roles = answers[0].get("data", {}).get("client", {}).get("roles", [])
    if CONTROLLER_ROLE not in {role.get("rolename") for role in roles}:
        raise errors.PermanentError(
            f"the broker at {host}:{port} did not give {username!r} the role "
            f"{CONTROLLER_ROLE!r} (agents' topics): add it with mosquitto_ctrl dynsec "
            f"addClientRole {username} {CONTROLLER_ROLE}"
        )
