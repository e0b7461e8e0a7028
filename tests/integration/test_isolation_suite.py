"""The isolation suite: one bootstrapped controller (TLS, the local substrate, two models,
four users) and a table of attacks across users, models, agents, units and the bus.

Every attempt is one test case. Each must fail with a clear error — a non-zero exit naming
what is refused for a command, 403 for an HTTP call, `Permission denied` for a file — and
leave every model exactly as it was: the fingerprint (bundles, config, secrets, users and
their access, the model list) is taken before and compared after each attempt.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest
import yaml

from runecraft.client import Client
from runecraft.controller.providers.local import pid_file
from tests.integration.conftest import EXAMPLES, Rune
from tests.integration.test_isolation_local import unit_dir

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="the suite's unit attacks need a root controller (isolated machines)"
)

PASSWORD = "correct horse battery staple"
USERS = {"reader": "read", "writer": "write", "owner": "admin", "outsider": None}
"""Each user's access to model `alpha`; none of them has any on `beta`."""
TIMEOUT = "3m"


@dataclass
class World:
    admin: Rune
    users: dict[str, Rune]
    """A client home per user, logged in as that user."""
    beta_charm: str
    """The sha256 of a charm only `beta` uses."""
    alpha_agent: dict[str, Any]
    """The agent.json of alpha's machine 0: what any hook there can read."""
    beta_agent: dict[str, Any]
    tmp: Path

    def client(self, token: str | None = None) -> Client:
        config = yaml.safe_load((self.admin.home / "client.yaml").read_text())
        return Client(config["endpoint"], token or config["token"], ca_cert=config["ca_cert"])


def _agent_config(rune: Rune, model: str) -> dict[str, Any]:
    for path in (rune.home / "machines").glob("*/0/agent.json"):
        config: dict[str, Any] = json.loads(path.read_text())
        if config["model_name"] == model:
            return config
    raise AssertionError(f"no machine 0 in {model}")


def _charm_of(rune: Rune, model: str) -> str:
    with sqlite3.connect(rune.home / "controller" / "state.db") as db:
        rows = db.execute(
            "SELECT a.charm_sha256 FROM applications a JOIN models m ON a.model_uuid = m.uuid "
            "WHERE m.name = ?",
            (model,),
        ).fetchall()
    assert len(rows) == 1, rows
    return str(rows[0][0])


def _user_home(admin: Rune, name: str, tmp: Path) -> Rune:
    """A client home of its own for `name`: the admin's client config, then `rune login`."""
    home = tmp / f"as-{name}"
    home.mkdir()
    shutil.copy(admin.home / "client.yaml", home / "client.yaml")
    user = Rune(home=home, cache=admin.cache)
    user("login", "-u", name, stdin=PASSWORD + "\n")
    return user


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, charm_cache: Path) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("isolation")
    admin = Rune(home=tmp / "home", cache=charm_cache)
    # beta runs a charm of its own: hello-bash with one more file, so another content hash.
    beta_charm = tmp / "hello-beta"
    shutil.copytree(EXAMPLES / "hello-bash", beta_charm)
    (beta_charm / "BETA").write_text("beta only\n")
    big = {"app": {"message": "x" * (2 << 20)}}
    (tmp / "big.yaml").write_text(yaml.safe_dump(big))
    try:
        admin("bootstrap")
        admin("add-model", "alpha")
        admin("deploy", str(EXAMPLES / "hello-bash"), "app", "-m", "alpha", "-n", "2")
        admin("add-model", "beta")
        admin("deploy", str(beta_charm), "app", "-m", "beta")
        admin("add-secret", "-m", "beta", "hidden", "password=beta-only")
        for model in ("alpha", "beta"):
            admin("wait", "-m", model, "--timeout", TIMEOUT)
        for name, level in USERS.items():
            admin("add-user", name, "--password-stdin", stdin=PASSWORD + "\n")
            if level is not None:
                admin("grant", name, level, "alpha")
        yield World(
            admin=admin,
            users={name: _user_home(admin, name, tmp) for name in USERS},
            beta_charm=_charm_of(admin, "beta"),
            alpha_agent=_agent_config(admin, "alpha"),
            beta_agent=_agent_config(admin, "beta"),
            tmp=tmp,
        )
    finally:
        config = admin.home / "controller" / "controller.yaml"
        if config.exists():
            name = yaml.safe_load(config.read_text())["name"]
            admin("kill-controller", name, "--no-prompt", check=False)


def fingerprint(world: World) -> dict[str, Any]:
    """What no attempt may change, read as the controller's admin."""

    async def read() -> dict[str, Any]:
        async with world.client() as client:
            found: dict[str, Any] = {
                "models": sorted((m.name, m.uuid, m.life) for m in await client.models()),
                "users": sorted(
                    (u.name, u.access, sorted(u.models.items())) for u in await client.users()
                ),
            }
            for model in ("alpha", "beta"):
                found[model] = {
                    "bundle": await client.export_bundle(model),
                    "config": await client.get_model_config(model),
                    "app": await client.get_config(model, "app"),
                    "secrets": await client.secrets(model, reveal=True),
                }
            return found

    return asyncio.run(read())


# --- the attempts --------------------------------------------------------------------------


@dataclass(frozen=True)
class Cli:
    """`rune ARGS` as `user` (a client home logged in as that user) must exit non-zero with
    `expect` in its error."""

    user: str
    args: tuple[str, ...]
    expect: str

    def attempt(self, world: World) -> None:
        rune = world.admin if self.user == "admin" else world.users[self.user]
        args = [str(arg).format(tmp=world.tmp) for arg in self.args]
        result = rune(*args, check=False, stdin=PASSWORD + "\n")
        assert result.returncode != 0, result.stdout
        assert self.expect in result.stderr, result.stderr


def _cli(user: str, expect: str, *args: str) -> Cli:
    return Cli(user, args, expect)


WRITE = 'write access to model "alpha" is required'
ADMIN = 'admin access to model "alpha" is required'
SUPERUSER = "superuser"


def _no_access(user: str) -> str:
    return f'user "{user}" has no access to model "beta"'


CLI_ATTEMPTS = {
    # A read-only user changes nothing.
    "reader-deploys": _cli(
        "reader", WRITE, "deploy", str(EXAMPLES / "hello-bash"), "x", "-m", "alpha"
    ),
    "reader-sets-config": _cli("reader", WRITE, "config", "-m", "alpha", "app", "message=pwned"),
    "reader-adds-a-unit": _cli("reader", WRITE, "add-unit", "-m", "alpha", "app"),
    "reader-removes-a-unit": _cli("reader", WRITE, "remove-unit", "-m", "alpha", "app/1"),
    "reader-removes-the-app": _cli("reader", WRITE, "remove-application", "-m", "alpha", "app"),
    "reader-sets-model-config": _cli("reader", WRITE, "model-config", "-m", "alpha", "x=1"),
    "reader-adds-a-secret": _cli("reader", WRITE, "add-secret", "-m", "alpha", "s", "k=v"),
    "reader-runs-an-action": _cli("reader", WRITE, "run", "-m", "alpha", "app/0", "noop"),
    "reader-execs": _cli("reader", WRITE, "exec", "-m", "alpha", "--unit", "app/0", "--", "id"),
    "reader-grants-itself-write": _cli("reader", ADMIN, "grant", "reader", "write", "alpha"),
    "reader-destroys-the-model": _cli("reader", ADMIN, "destroy-model", "alpha", "--no-prompt"),
    "reader-reveals-secrets": _cli("reader", ADMIN, "secrets", "-m", "alpha", "--reveal"),
    "reader-probes-for-a-user-by-granting": _cli(
        "reader", ADMIN, "grant", "no-such-user", "read", "alpha"
    ),
    # Write is not admin.
    "writer-grants": _cli("writer", ADMIN, "grant", "reader", "write", "alpha"),
    "writer-destroys-the-model": _cli("writer", ADMIN, "destroy-model", "alpha", "--no-prompt"),
    "writer-execs": _cli("writer", ADMIN, "exec", "-m", "alpha", "--unit", "app/0", "--", "id"),
    # The admin of alpha is nobody on beta, and no controller superuser.
    "owner-reads-beta-status": _cli("owner", _no_access("owner"), "status", "-m", "beta"),
    "owner-shows-beta": _cli("owner", _no_access("owner"), "show-model", "beta"),
    "owner-reads-beta-config": _cli("owner", _no_access("owner"), "config", "-m", "beta", "app"),
    "owner-sets-beta-config": _cli(
        "owner", _no_access("owner"), "config", "-m", "beta", "app", "message=x"
    ),
    "owner-deploys-into-beta": _cli(
        "owner", _no_access("owner"), "deploy", str(EXAMPLES / "hello-bash"), "x", "-m", "beta"
    ),
    "owner-reads-beta-logs": _cli(
        "owner", _no_access("owner"), "debug-log", "-m", "beta", "--replay", "--no-tail"
    ),
    "owner-reads-beta-secrets": _cli(
        "owner", _no_access("owner"), "secrets", "-m", "beta", "--reveal"
    ),
    "owner-exports-beta": _cli("owner", _no_access("owner"), "export-bundle", "-m", "beta"),
    "owner-destroys-beta": _cli(
        "owner", _no_access("owner"), "destroy-model", "beta", "--no-prompt"
    ),
    "owner-grants-itself-beta": _cli(
        "owner", _no_access("owner"), "grant", "owner", "admin", "beta"
    ),
    "owner-adds-a-user": _cli("owner", SUPERUSER, "add-user", "mallory"),
    "owner-removes-a-user": _cli("owner", SUPERUSER, "remove-user", "reader", "--yes"),
    "owner-resets-a-password": _cli("owner", SUPERUSER, "change-user-password", "reader"),
    "owner-reads-the-audit-log": _cli("owner", SUPERUSER, "audit-log"),
    "owner-rotates-the-secrets-key": _cli("owner", SUPERUSER, "rotate-secrets-key"),
    "owner-adds-a-model": _cli("owner", "add-model", "add-model", "gamma"),
    # No access at all.
    "outsider-reads-alpha-status": _cli(
        "outsider", 'has no access to model "alpha"', "status", "-m", "alpha"
    ),
    "outsider-reads-alpha-secrets": _cli(
        "outsider", 'has no access to model "alpha"', "secrets", "-m", "alpha"
    ),
    # Names matched to their end, and what the bus cannot carry.
    "admin-adds-a-model-named-with-a-newline": _cli("admin", "model name", "add-model", "evil\n"),
    "admin-deploys-an-app-named-with-a-newline": _cli(
        "admin", "application name", "deploy", str(EXAMPLES / "hello-bash"), "evil\n", "-m", "alpha"
    ),
    "admin-sets-config-larger-than-the-bus": _cli(
        "admin", "message", "config", "-m", "alpha", "app", "--file", "{tmp}/big.yaml"
    ),
}


@dataclass(frozen=True)
class Http:
    """One API call with a credential an attacker holds must be refused (403 or 404)."""

    credential: Callable[[World], str]
    method: str
    path: Callable[[World], str]
    expect: str

    def attempt(self, world: World) -> None:
        config = yaml.safe_load((world.admin.home / "client.yaml").read_text())
        context = ssl.create_default_context(cadata=config["ca_cert"])
        headers = {"Authorization": f"Bearer {self.credential(world)}".encode()}
        with httpx.Client(base_url=config["endpoint"], verify=context, headers=headers) as http:
            response = http.request(self.method, self.path(world), json={})
        assert response.status_code in (401, 403, 404), response.text
        assert self.expect in response.json()["error"]["message"], response.text


def _alpha_agent(world: World) -> str:
    return str(world.alpha_agent["api_token"])


HTTP_ATTEMPTS = {
    "agent-downloads-another-models-charm": Http(
        _alpha_agent, "GET", lambda w: f"/v1/charms/{w.beta_charm}/archive", "permission denied"
    ),
    "agent-reads-its-own-models-status": Http(
        _alpha_agent, "GET", lambda _: "/v1/models/alpha/status", "permission denied"
    ),
    "agent-reads-another-models-secrets": Http(
        _alpha_agent, "GET", lambda _: "/v1/models/beta/secrets", "permission denied"
    ),
    "agent-deploys": Http(
        _alpha_agent, "POST", lambda _: "/v1/models/alpha/applications", "permission denied"
    ),
    "agent-lists-users": Http(_alpha_agent, "GET", lambda _: "/v1/users", "permission denied"),
    "agent-with-another-agents-name": Http(
        lambda w: f"{w.beta_agent['agent']}:{w.alpha_agent['api_token'].partition(':')[2]}",
        "GET",
        lambda w: f"/v1/charms/{w.beta_charm}/archive",
        "invalid credentials",
    ),
    "agent-password-as-a-user-token": Http(
        lambda w: str(w.alpha_agent["api_token"]).partition(":")[2],
        "GET",
        lambda _: "/v1/models/alpha/status",
        "invalid credentials",
    ),
    "garbage-token": Http(
        lambda _: "not-a-token", "GET", lambda _: "/v1/models", "invalid credentials"
    ),
    "controller-user-non-ascii-password": Http(
        lambda _: "controller:\u00e9t\u00e9", "GET", lambda _: "/v1/models", "invalid credentials"
    ),
    "broker-password-as-a-token": Http(
        lambda w: str(w.alpha_agent["broker"]["password"]),
        "GET",
        lambda _: "/v1/models",
        "invalid credentials",
    ),
}


def run_in(rune: Rune, unit: str, command: str) -> tuple[int, str, str]:
    """`rune exec` one shell line in alpha's `unit` (its hook context): exit code, output."""
    result = rune(
        "exec", "-m", "alpha", "--format", "json", "--unit", unit, "--", command, check=False
    )
    assert result.stdout.strip(), result.stderr
    task: dict[str, Any] = json.loads(result.stdout)[unit]
    results = task["results"]
    return int(results["return-code"]), results.get("stdout", ""), results.get("stderr", "")


def _unit_attempt(command: str, expect: str = "Permission denied") -> Callable[[World], None]:
    """`command` run in alpha's app/0 hook context (as its machine's user) must fail."""

    def attempt(world: World) -> None:
        controller = world.admin.home / "controller"
        other_machine = unit_dir(world.admin, "app/1").parents[1]
        paths = {
            "home": world.admin.home,
            "controller": controller,
            "other_machine": other_machine,
            "other_unit": unit_dir(world.admin, "app/1"),
            "beta_machine": Path(world.beta_agent["data_dir"]),
            "other_agent_pid": pid_file(other_machine).read_text().strip(),
            "controller_pid": (controller / "controller.pid").read_text().strip(),
        }
        code, out, err = run_in(world.admin, "app/0", command.format(**paths))
        assert code != 0 and out == "", (command, out)
        assert expect in err, (command, err)

    return attempt


UNIT_ATTEMPTS = {
    "hook-reads-controller-yaml": _unit_attempt("cat {controller}/controller.yaml"),
    "hook-reads-the-database": _unit_attempt("cat {controller}/state.db"),
    "hook-reads-the-secrets-key": _unit_attempt("cat {controller}/secrets.key"),
    "hook-reads-the-ca-key": _unit_attempt("cat {controller}/tls/ca.key"),
    "hook-reads-client-yaml": _unit_attempt("cat {home}/client.yaml"),
    "hook-lists-the-home": _unit_attempt("ls {home}"),
    "hook-lists-another-machine": _unit_attempt("ls {other_machine}"),
    "hook-reads-another-units-state": _unit_attempt("cat {other_unit}/state.json"),
    "hook-reads-another-models-agent-config": _unit_attempt("cat {beta_machine}/agent.json"),
    "hook-writes-into-another-machine": _unit_attempt("touch {other_machine}/planted"),
    "hook-signals-another-machines-agent": _unit_attempt(
        "kill -TERM {other_agent_pid}", "Operation not permitted"
    ),
    "hook-signals-the-controller": _unit_attempt(
        "kill -TERM {controller_pid}", "Operation not permitted"
    ),
    "hook-reads-the-controllers-environment": _unit_attempt("cat /proc/{controller_pid}/environ"),
}


def _bus_connect(
    world: World,
    *,
    identifier: str | None = None,
    tls: bool = True,
    user: str | None = None,
    password: str | None = None,
) -> None:
    """A CONNECT an attacker can make must be refused: by the broker's answer (CONNACK with
    a refusal code) where it gets that far, not by hanging until the client gives up."""
    broker = world.alpha_agent["broker"]
    user = user or broker["username"]
    context = ssl.create_default_context(cadata=broker["ca_cert"]) if tls else None

    async def connect() -> None:
        async with aiomqtt.Client(
            broker["host"],
            broker["port"],
            username=user,
            password=password if password is not None else broker["password"],
            identifier=identifier or user,
            tls_context=context,
            timeout=10,
        ):
            pytest.fail("the broker accepted the connection")

    with pytest.raises(aiomqtt.MqttError) as refused:
        asyncio.run(connect())
    if tls:
        assert isinstance(refused.value, aiomqtt.MqttCodeError), repr(refused.value)


BUS_ATTEMPTS: dict[str, Callable[[World], None]] = {
    "bus-takes-another-agents-client-id": lambda w: _bus_connect(
        w, identifier=str(w.beta_agent["broker"]["username"])
    ),
    "bus-plain-tcp-to-the-tls-listener": lambda w: _bus_connect(w, tls=False),
    "bus-wrong-password": lambda w: _bus_connect(w, password="guess"),
    "bus-controller-user-non-ascii-password": lambda w: _bus_connect(
        w, user="controller", password="\u00e9t\u00e9"
    ),
}


ATTEMPTS: dict[str, Callable[[World], None]] = {
    **{name: a.attempt for name, a in CLI_ATTEMPTS.items()},
    **{name: a.attempt for name, a in HTTP_ATTEMPTS.items()},
    **UNIT_ATTEMPTS,
    **BUS_ATTEMPTS,
}


def test_isolation_suite_has_at_least_fifty_attempts() -> None:
    assert len(ATTEMPTS) >= 50, len(ATTEMPTS)


@pytest.mark.parametrize("name", sorted(ATTEMPTS))
def test_isolation_attempt_fails_and_changes_nothing(world: World, name: str) -> None:
    before = fingerprint(world)
    ATTEMPTS[name](world)
    assert fingerprint(world) == before
