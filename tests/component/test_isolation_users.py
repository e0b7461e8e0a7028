"""Users, model access and tokens on the controller API, in process over a real store.

Every attempt to cross a boundary (another model, a level not held, an agent out of its
model, a dead token) must get a clear error naming what is missing, and leave the model
exactly as it was: its revision, life and config are compared before and after.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from runecraft.controller import _passwords, services
from runecraft.controller.providers import CloudSpec
from runecraft.controller.state import Store, TokenRecord, UserStore
from tests.component._api import TOKEN, URL, controller_app
from tests.component.test_api import _charm, _upload
from tests.component.test_keys_and_defaults import public_key

MODEL_CONFIG = {"values": {"update-status-hook-interval": "10m"}}


@dataclass
class World:
    """A controller app with models `a` and `b`, made by the admin."""

    store: Store
    app: Any
    admin: httpx.AsyncClient

    @contextlib.asynccontextmanager
    async def as_token(self, token: str) -> AsyncIterator[httpx.AsyncClient]:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url=URL,
            headers={"Authorization": f"Bearer {token}"},
        ) as http:
            yield http

    async def add_user(self, name: str, password: str = "pw-" + "x" * 8) -> None:
        body = {"name": name, "password": password}
        response = await self.admin.post("/v1/users", json=body)
        assert response.status_code == 201, response.text

    async def login(self, name: str, password: str = "pw-" + "x" * 8, **extra: Any) -> str:
        response = await self.admin.post(
            "/v1/login", json={"user": name, "password": password, **extra}
        )
        assert response.status_code == 200, response.text
        return str(response.json()["token"])

    async def grant(self, name: str, level: str, *models: str) -> None:
        body = {"level": level, "models": list(models)}
        response = await self.admin.post(f"/v1/users/{name}/grant", json=body)
        assert response.status_code == 204, response.text

    async def fingerprint(self, model: str) -> tuple[Any, ...]:
        """What any change to the model would move."""
        record = await self.store.model(model)
        snapshot = await self.store.snapshot(record.uuid)
        return (
            record.revision,
            record.life,
            record.config,
            sorted((a.name, a.config) for a in snapshot.applications),
        )


async def _verify(store: Store, agent: str, password: str) -> bool:
    machine = await store.machine_by_agent(agent)
    return machine is not None and _passwords.verify_password(password, machine.password_hash)


@pytest.fixture
async def world(store: Store) -> AsyncIterator[World]:
    hub = services.ChangeHub()

    async def verify(agent: str, password: str) -> bool:
        return await _verify(store, agent, password)

    app = controller_app(store, hub, published_revision=None, verify_agent=verify)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=URL,
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as admin:
        for name in ("a", "b"):
            response = await admin.post("/v1/models", json={"name": name})
            assert response.status_code == 201, response.text
        yield World(store, app, admin)


def _refused(response: httpx.Response, message: str) -> None:
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "permission-denied"
    assert error["message"] == message


async def _deploy(http: httpx.AsyncClient, model: str, app: str, sha: str) -> httpx.Response:
    body = {"application": app, "charm_sha256": sha, "num_units": 1}
    return await http.post(f"/v1/models/{model}/applications", json=body)


# --- model levels ----------------------------------------------------------------------------


async def test_isolation_a_read_only_user_cannot_deploy_or_change_config(
    world: World, tmp_path: Path
) -> None:
    sha = await _upload(world.admin, _charm(tmp_path, "web", {}, options={"x": {"type": "int"}}))
    assert (await _deploy(world.admin, "a", "web", sha)).status_code == 201
    await world.add_user("bob")
    await world.grant("bob", "read", "a")
    before = await world.fingerprint("a")
    needs_write = 'permission denied: write access to model "a" is required; user "bob" has read'
    async with world.as_token(await world.login("bob")) as bob:
        assert (await bob.get("/v1/models/a/status")).status_code == 200
        assert (await bob.get("/v1/models/a/applications/web/config")).status_code == 200
        _refused(await _deploy(bob, "a", "web2", sha), needs_write)
        _refused(
            await bob.patch("/v1/models/a/applications/web/config", json={"values": {"x": 3}}),
            needs_write,
        )
        _refused(await bob.patch("/v1/models/a/config", json=MODEL_CONFIG), needs_write)
        _refused(
            await bob.post("/v1/models/a/applications/web/scale", json={"scale": 3}), needs_write
        )
        # A bundle: planned with read access, applied only with write.
        bundle = {"bundle": "applications:\n  web:\n    charm: web\n    num_units: 2\n"}
        planned = await bob.post("/v1/models/a/bundle", json={**bundle, "dry_run": True})
        assert planned.status_code == 200, planned.text
        _refused(await bob.post("/v1/models/a/bundle", json=bundle), needs_write)
        _refused(
            await bob.delete("/v1/models/a"),
            'permission denied: admin access to model "a" is required; user "bob" has read',
        )
        _refused(
            await bob.get("/v1/models/a/secrets", params={"reveal": True}),
            'permission denied: admin access to model "a" is required; user "bob" has read',
        )
    assert await world.fingerprint("a") == before


async def test_isolation_an_admin_of_one_model_cannot_see_or_touch_another(
    world: World, tmp_path: Path
) -> None:
    sha = await _upload(world.admin, _charm(tmp_path, "web", {}, options={"x": {"type": "int"}}))
    assert (await _deploy(world.admin, "b", "web", sha)).status_code == 201
    await world.add_user("alice")
    await world.grant("alice", "admin", "a")
    before = await world.fingerprint("b")
    async with world.as_token(await world.login("alice")) as alice:
        listed = (await alice.get("/v1/models")).json()
        assert [m["name"] for m in listed] == ["a"]
        attempts = [
            alice.get("/v1/models/b"),
            alice.get("/v1/models/b/status"),
            alice.get("/v1/models/b/config"),
            alice.get("/v1/models/b/applications/web/config"),
            alice.get("/v1/models/b/logs"),
            alice.get("/v1/models/b/secrets"),
            alice.get("/v1/models/b/relations"),
            alice.get("/v1/models/b/bundle"),
            alice.patch("/v1/models/b/config", json=MODEL_CONFIG),
            alice.patch("/v1/models/b/applications/web/config", json={"values": {"x": 1}}),
            alice.post("/v1/models/b/secrets", json={"name": "s", "content": {"k": "v"}}),
            _deploy(alice, "b", "web2", sha),
            alice.delete("/v1/models/b"),
            alice.post("/v1/users/alice/grant", json={"level": "admin", "models": ["b"]}),
        ]
        for attempt in attempts:
            _refused(await attempt, 'permission denied: user "alice" has no access to model "b"')
        # A model that does not exist is refused the same way: nothing tells them apart.
        _refused(
            await alice.get("/v1/models/nope/status"),
            'permission denied: user "alice" has no access to model "nope"',
        )
        # Her own model she may change, destroy, and share.
        patched = await alice.patch("/v1/models/a/config", json=MODEL_CONFIG)
        assert patched.status_code == 200, patched.text
    assert await world.fingerprint("b") == before
    assert (await world.store.model("b")).life == "alive"


async def test_isolation_controller_routes_need_superuser_and_add_model_access(
    world: World,
) -> None:
    await world.add_user("bob")
    async with world.as_token(await world.login("bob")) as bob:
        _refused(
            await bob.get("/v1/clouds"),
            'permission denied: superuser access to the controller is required; user "bob" '
            "has login",
        )
        _refused(
            await bob.post("/v1/controller/shutdown"),
            'permission denied: superuser access to the controller is required; user "bob" '
            "has login",
        )
        _refused(
            await bob.post("/v1/users", json={"name": "eve"}),
            'permission denied: superuser access to the controller is required; user "bob" '
            "has login",
        )
        _refused(
            await bob.post("/v1/models", json={"name": "mine"}),
            'permission denied: add-model access to the controller is required; user "bob" '
            "has login",
        )
        assert [m["name"] for m in (await world.admin.get("/v1/models")).json()] == ["a", "b"]
        await world.grant("bob", "add-model")
        made = await bob.post("/v1/models", json={"name": "mine"})
        assert made.status_code == 201, made.text
        # The creator is the model's admin, and sees it alone.
        assert [m["name"] for m in (await bob.get("/v1/models")).json()] == ["mine"]
        assert (await bob.delete("/v1/models/mine")).status_code == 200
        assert [u["name"] for u in (await bob.get("/v1/users")).json()] == ["bob"]
    # The superuser sees every model.
    names = [m["name"] for m in (await world.admin.get("/v1/models")).json()]
    assert names == ["a", "b", "mine"]


# --- tokens ------------------------------------------------------------------------------------


async def test_isolation_expired_and_revoked_tokens_are_refused(world: World) -> None:
    await world.add_user("bob")
    await world.grant("bob", "write", "a")
    expired = "expired-token-value"
    now = time.time()
    await UserStore(world.store).add_token(
        TokenRecord(
            hashlib.sha256(expired.encode()).hexdigest(), "bob", now - 7200, now - 3600, None
        )
    )
    before = await world.fingerprint("a")
    async with world.as_token(expired) as old:
        _refused(
            await old.patch("/v1/models/a/config", json=MODEL_CONFIG),
            "invalid credentials: the token expired (log in again with `rune login`)",
        )
    token = await world.login("bob")
    async with world.as_token(token) as bob:
        assert (await bob.get("/v1/whoami")).json()["user"] == "bob"
        assert (await bob.post("/v1/logout")).json() == {"revoked": True}
        _refused(
            await bob.patch("/v1/models/a/config", json=MODEL_CONFIG),
            "invalid credentials: the token was revoked",
        )
    async with world.as_token("made-up") as nobody:
        _refused(await nobody.get("/v1/models"), "invalid credentials")
    assert await world.fingerprint("a") == before


async def test_isolation_removing_a_user_kills_its_tokens(world: World) -> None:
    await world.add_user("bob")
    await world.grant("bob", "admin", "a")
    token = await world.login("bob")
    removed = await world.admin.delete("/v1/users/bob")
    assert removed.status_code == 200, removed.text
    before = await world.fingerprint("a")
    async with world.as_token(token) as bob:
        _refused(await bob.delete("/v1/models/a"), "invalid credentials")
    refused = await world.admin.post("/v1/login", json={"user": "bob", "password": "pw-xxxxxxxx"})
    _refused(refused, "invalid user name or password")
    # A new "bob" inherits nothing.
    await world.add_user("bob")
    async with world.as_token(await world.login("bob")) as bob:
        assert (await bob.get("/v1/models")).json() == []
    assert await world.fingerprint("a") == before


async def test_changing_a_password_revokes_the_users_other_tokens(world: World) -> None:
    await world.add_user("bob")
    first, second = await world.login("bob"), await world.login("bob")
    async with world.as_token(second) as bob:
        changed = await bob.put("/v1/users/bob/password", json={"password": "new-password"})
        assert changed.json() == {"revoked": 1}
        assert (await bob.get("/v1/whoami")).status_code == 200  # the token that asked lives
        _refused(
            await bob.put("/v1/users/admin/password", json={"password": "mine-now"}),
            'permission denied: superuser access to the controller is required; user "bob" '
            "has login",
        )
    async with world.as_token(first) as old:
        _refused(await old.get("/v1/whoami"), "invalid credentials: the token was revoked")
    await world.login("bob", "new-password")


async def test_the_admin_token_is_user_admin_and_cannot_be_revoked(world: World) -> None:
    assert (await world.admin.get("/v1/whoami")).json() == {
        "user": "admin",
        "access": "superuser",
        "expires": None,
    }
    assert (await world.admin.post("/v1/logout")).json() == {"revoked": False}
    assert (await world.admin.get("/v1/models")).status_code == 200
    _refused(
        await world.admin.post("/v1/login", json={"user": "admin", "password": ""}),
        "invalid user name or password",
    )
    conflict = await world.admin.delete("/v1/users/admin")
    assert conflict.status_code == 409


# --- grant and revoke --------------------------------------------------------------------------

GRANTS = [
    # (verb, level, access after, or the error's start)
    ("grant", "read", "read"),
    ("grant", "read", 'user "bob" already has "read" access to model "a" or greater'),
    ("grant", "admin", "admin"),
    ("grant", "write", 'user "bob" already has "admin" access to model "a" or greater'),
    ("revoke", "admin", "write"),
    ("revoke", "admin", 'user "bob" does not have "admin" access to model "a"'),
    ("revoke", "write", "read"),
    ("grant", "write", "write"),
    ("revoke", "read", None),
    ("revoke", "read", 'user "bob" does not have "read" access to model "a"'),
]


async def test_grant_and_revoke_follow_jujus_levels(world: World) -> None:
    await world.add_user("bob")

    async def access() -> str | None:
        users = (await world.admin.get("/v1/users")).json()
        (bob,) = [u for u in users if u["name"] == "bob"]
        models: dict[str, str] = bob["models"]
        return models.get("a")

    for verb, level, expected in GRANTS:
        had = await access()
        response = await world.admin.post(
            f"/v1/users/bob/{verb}", json={"level": level, "models": ["a"]}
        )
        if expected is None or expected in ("read", "write", "admin"):
            assert response.status_code == 204, (verb, level, response.text)
            assert await access() == expected, (verb, level)
        else:
            assert response.status_code == 409, (verb, level, response.text)
            assert response.json()["error"]["message"] == expected
            assert await access() == had


async def test_controller_levels_grant_and_revoke(world: World) -> None:
    await world.add_user("bob")
    await world.grant("bob", "superuser")
    token = await world.login("bob")
    async with world.as_token(token) as bob:
        assert (await bob.get("/v1/clouds")).status_code == 200
        revoked = await world.admin.post("/v1/users/bob/revoke", json={"level": "superuser"})
        assert revoked.status_code == 204, revoked.text
        _refused(
            await bob.get("/v1/clouds"),
            'permission denied: superuser access to the controller is required; user "bob" '
            "has add-model",
        )
        assert (await world.admin.post("/v1/users/bob/revoke", json={"level": "login"})).is_success
        _refused(await bob.get("/v1/whoami"), "invalid credentials: the token was revoked")
    users = {u["name"]: u["access"] for u in (await world.admin.get("/v1/users")).json()}
    assert users == {"admin": "superuser", "bob": "disabled"}
    bad = await world.admin.post("/v1/users/bob/grant", json={"level": "owner", "models": ["a"]})
    assert bad.status_code == 400 and "level" in bad.text


# --- agents ------------------------------------------------------------------------------------


async def _agent_of(world: World, model: str) -> str:
    """The credential of the machine agent of `model`'s first machine (a password set here,
    as the provisioner would)."""
    record = await world.store.model(model)
    machine = (await world.store.snapshot(record.uuid)).machines[0]
    async with world.store.write(model) as tx:
        await tx.machines.update(machine, password_hash=_passwords.hash_password("agent-pw"))
    return f"{machine.agent}:agent-pw"


async def test_isolation_an_agent_reaches_only_its_own_models_charms_and_resources(
    world: World, tmp_path: Path
) -> None:
    meta = {"resources": {"motd": {"type": "file", "filename": "motd.txt"}}}
    ours = await _upload(world.admin, _charm(tmp_path, "ours", meta))
    theirs = await _upload(world.admin, _charm(tmp_path, "theirs", meta))
    resources = {}
    for model, sha, text in (("a", ours, b"ours\n"), ("b", theirs, b"theirs\n")):
        assert (await _deploy(world.admin, model, "app", sha)).status_code == 201
        blob = (await world.admin.post("/v1/resources", content=text)).json()["sha256"]
        attached = await world.admin.post(
            f"/v1/models/{model}/applications/app/resources", json={"resources": {"motd": blob}}
        )
        assert attached.status_code == 200, attached.text
        resources[model] = blob
    before = await world.fingerprint("b")
    async with world.as_token(await _agent_of(world, "a")) as agent:
        assert (await agent.get(f"/v1/charms/{ours}/archive")).status_code == 200
        assert (await agent.get(f"/v1/resources/{resources['a']}")).content == b"ours\n"
        denied = await agent.get(f"/v1/charms/{theirs}/archive")
        assert denied.status_code == 403
        assert f'charm "{theirs}" is not used by agent' in denied.json()["error"]["message"]
        denied = await agent.get(f"/v1/resources/{resources['b']}")
        assert denied.status_code == 403
        assert "is not used by agent" in denied.json()["error"]["message"]
        # No user route at all, not even its own model's.
        for attempt in (
            agent.get("/v1/models"),
            agent.get("/v1/models/a/status"),
            agent.get("/v1/models/b/status"),
            agent.patch("/v1/models/b/config", json=MODEL_CONFIG),
            agent.get("/v1/users"),
        ):
            response = await attempt
            assert response.status_code == 403, response.text
            assert "may only use agent routes" in response.json()["error"]["message"]
    assert await world.fingerprint("b") == before


async def test_isolation_a_user_downloads_only_what_its_models_use(
    world: World, tmp_path: Path
) -> None:
    ours = await _upload(world.admin, _charm(tmp_path, "ours", {}))
    theirs = await _upload(world.admin, _charm(tmp_path, "theirs", {}))
    for model, sha in (("a", ours), ("b", theirs)):
        assert (await _deploy(world.admin, model, "app", sha)).status_code == 201
    await world.add_user("bob")
    await world.grant("bob", "read", "a")
    async with world.as_token(await world.login("bob")) as bob:
        assert (await bob.get(f"/v1/charms/{ours}/archive")).status_code == 200
        denied = await bob.get(f"/v1/charms/{theirs}/archive")
        assert denied.status_code == 403, denied.text


async def test_isolation_exec_needs_model_admin(world: World, tmp_path: Path) -> None:
    """`rune exec` runs any command on a unit: Juju asks for admin, write is not enough."""
    sha = await _upload(world.admin, _charm(tmp_path, "web", {}))
    assert (await _deploy(world.admin, "a", "web", sha)).status_code == 201
    await world.add_user("carol")
    await world.grant("carol", "write", "a")
    before = await world.fingerprint("a")
    async with world.as_token(await world.login("carol")) as carol:
        body = {"units": ["web/0"], "action": "juju-exec", "params": {"command": "id"}}
        _refused(
            await carol.post("/v1/models/a/actions", json=body),
            'permission denied: admin access to model "a" is required; user "carol" has write',
        )
    assert await world.fingerprint("a") == before
    assert (await world.store.snapshot((await world.store.model("a")).uuid)).actions == []


async def test_isolation_ssh_keys_need_model_admin_to_change(world: World) -> None:
    """As Juju: a writer may list a model's authorized keys, not add or remove them."""
    await world.add_user("dave")
    await world.grant("dave", "write", "a")
    async with world.as_token(await world.login("dave")) as dave:
        assert (await dave.get("/v1/models/a/ssh-keys")).json() == []
        _refused(
            await dave.post("/v1/models/a/ssh-keys", json={"keys": [public_key("d")]}),
            'permission denied: admin access to model "a" is required; user "dave" has write',
        )
    assert (await world.admin.get("/v1/models/a/ssh-keys")).json() == []


# --- every route --------------------------------------------------------------------------------

PUBLIC = {("GET", "/v1/health"), ("POST", "/v1/login")}
AGENT_ROUTES = {
    ("GET", "/v1/agent/credential"),
    ("GET", "/v1/charms/{sha256}/archive"),
    ("GET", "/v1/resources/{sha256}"),
}


def _routes(world: World) -> list[tuple[str, str]]:
    """Every (method, path) the app serves, from its OpenAPI document."""
    paths = world.app.openapi()["paths"]
    found = [(method.upper(), path) for path, ops in paths.items() for method in ops]
    assert len(found) > 40
    return found


async def test_isolation_every_model_route_refuses_a_user_without_access(
    world: World, tmp_path: Path
) -> None:
    """Walks the app: a route under /v1/models/{model} added without a check fails here."""
    sha = await _upload(world.admin, _charm(tmp_path, "web", {}))
    assert (await _deploy(world.admin, "b", "web", sha)).status_code == 201
    await world.add_user("bob")
    before = await world.fingerprint("b")
    bodies = {("POST", "/v1/models/{model}/bundle"): {"bundle": "applications: {}\n"}}
    async with world.as_token(await world.login("bob")) as bob:
        for method, path in _routes(world):
            if "{model}" not in path:
                continue
            url = path.replace("{model}", "b").replace("{", "").replace("}", "")
            response = await bob.request(
                method, url, json=bodies.get((method, path), {}), params={"unit": "web/0"}
            )
            assert response.status_code == 403, (method, path, response.text)
            message = response.json()["error"]["message"]
            assert message == 'permission denied: user "bob" has no access to model "b"'
    assert await world.fingerprint("b") == before


async def test_isolation_agent_credentials_reach_no_route_but_the_agents(
    world: World, tmp_path: Path
) -> None:
    sha = await _upload(world.admin, _charm(tmp_path, "web", {}))
    assert (await _deploy(world.admin, "a", "web", sha)).status_code == 201
    credential = await _agent_of(world, "a")
    before = await world.fingerprint("a")
    async with world.as_token(credential) as agent:
        for method, path in _routes(world):
            if (method, path) in PUBLIC | AGENT_ROUTES:
                continue
            url = path.replace("{model}", "a").replace("{", "").replace("}", "")
            response = await agent.request(method, url, json={})
            assert response.status_code == 403, (method, path, response.text)
            assert "may only use agent routes" in response.json()["error"]["message"]
    assert await world.fingerprint("a") == before


USER_ROUTES = {
    ("GET", "/v1/controller"),
    ("GET", "/v1/models"),
    ("GET", "/v1/offers"),  # the offers of the models the user may read
    ("POST", "/v1/charms"),
    ("POST", "/v1/resources"),
    ("GET", "/v1/users"),
    ("GET", "/v1/whoami"),
    ("POST", "/v1/logout"),
}
"""What any logged-in user may call; the rest outside models needs more."""


async def test_isolation_every_controller_route_refuses_a_plain_user(world: World) -> None:
    await world.add_user("bob")
    bodies = {
        ("POST", "/v1/users/{name}/grant"): {"level": "superuser"},
        ("POST", "/v1/users/{name}/revoke"): {"level": "superuser"},
        ("PUT", "/v1/users/{name}/password"): {"password": "taken-over"},
        ("POST", "/v1/models"): {"name": "mine"},
        ("POST", "/v1/users"): {"name": "eve"},
    }
    async with world.as_token(await world.login("bob")) as bob:
        for method, path in _routes(world):
            if "{model}" in path or (method, path) in PUBLIC | USER_ROUTES:
                continue
            url = path.replace("{name}", "admin").replace("{", "").replace("}", "")
            response = await bob.request(method, url, json=bodies.get((method, path), {}))
            assert response.status_code == 403, (method, path, response.text)
    users = (await world.admin.get("/v1/users")).json()
    assert [(u["name"], u["access"]) for u in users] == [("admin", "superuser"), ("bob", "login")]
    assert [m["name"] for m in (await world.admin.get("/v1/models")).json()] == ["a", "b"]


async def test_isolation_add_model_access_does_not_reach_an_added_clouds_credential(
    world: World,
) -> None:
    """A cloud added with its credential (a kubeconfig) is not for every user with
    add-model: a trusted charm's `credential-get` would hand that credential out."""
    registry = world.app.state.context.clouds.registry
    registry.put(CloudSpec("k8s-prod", "kubernetes", "https://192.0.2.7:6443", {}))
    await world.add_user("carol")
    await world.grant("carol", "add-model")
    before = [m.name for m in await world.store.models()]
    async with world.as_token(await world.login("carol")) as carol:
        _refused(
            await carol.post("/v1/models", json={"name": "mine", "cloud": "k8s-prod"}),
            'permission denied: a model on cloud "k8s-prod" (added with its credential) '
            'needs superuser access; user "carol" has add-model',
        )
        made = await carol.post("/v1/models", json={"name": "mine"})  # the local cloud
        assert made.status_code == 201, made.text
    assert [m.name for m in await world.store.models()] == [*before, "mine"]


async def test_isolation_uploads_need_a_model_to_write_or_add_model_access(
    world: World, tmp_path: Path
) -> None:
    """A login-only user (or a reader) cannot fill the controller's disk with uploads."""
    data = _charm(tmp_path, "blob", {})
    await world.add_user("lurker")
    await world.add_user("reader")
    await world.grant("reader", "read", "a")
    await world.add_user("writer")
    await world.grant("writer", "write", "a")
    for name in ("lurker", "reader"):
        async with world.as_token(await world.login(name)) as http:
            message = (
                "permission denied: uploading a {} needs write access to a model or add-model "
                f'access to the controller; user "{name}" has neither'
            )
            _refused(await http.post("/v1/charms", content=data), message.format("charm"))
            _refused(await http.post("/v1/resources", content=b"r"), message.format("resource"))
            named = await http.post("/v1/charms", params={"model": "a"}, content=data)
            _refused(
                named,
                f'permission denied: write access to model "a" is required; user "{name}" has read'
                if name == "reader"
                else f'permission denied: user "{name}" has no access to model "a"',
            )
    async with world.as_token(await world.login("writer")) as writer:
        made = await writer.post("/v1/charms", content=data)
        assert made.status_code == 201, made.text


# --- cross-model relations ---------------------------------------------------------------------


async def test_isolation_consuming_an_offer_needs_consume_access_to_it(
    world: World, tmp_path: Path
) -> None:
    """As Juju: without access to the offer it is not found; read access (by its model)
    is not enough; consume access granted on the offer alone is."""
    db = await _upload(world.admin, _charm(tmp_path, "db", {"provides": {"db": "mysql"}}))
    assert (await _deploy(world.admin, "b", "db", db)).status_code == 201
    offered = await world.admin.post(
        "/v1/models/b/offers", json={"application": "db", "endpoints": ["db"]}
    )
    assert offered.status_code == 201, offered.text
    await world.add_user("alice")
    await world.grant("alice", "admin", "a")
    before = (await world.fingerprint("a"), await world.fingerprint("b"))
    async with world.as_token(await world.login("alice")) as alice:
        for body in ({"url": "admin/b.db"}, {"url": "b.db", "alias": "other"}):
            hidden = await alice.post("/v1/models/a/saas", json=body)
            assert hidden.status_code == 404, hidden.text
            assert hidden.json()["error"]["message"] == 'application offer "admin/b.db" not found'
        denied = 'permission denied: user "alice" has no access to model "b"'
        for attempt in (
            alice.get("/v1/models/b/offers"),
            alice.post("/v1/models/b/offers", json={"application": "db", "endpoints": ["db"]}),
            alice.post("/v1/models/b/offers/remove", json={"name": "db", "force": True}),
        ):
            _refused(await attempt, denied)
        assert (await world.fingerprint("a"), await world.fingerprint("b")) == before

        await world.grant("alice", "read", "b")
        _refused(
            await alice.post("/v1/models/a/saas", json={"url": "admin/b.db"}),
            'permission denied: consume access to offer "admin/b.db" is required; '
            'user "alice" has read',
        )
        # Only an admin of the offer may grant access to it.
        _refused(
            await alice.post(
                "/v1/users/alice/grant", json={"level": "consume", "offers": ["admin/b.db"]}
            ),
            'permission denied: admin access to offer "admin/b.db" is required; '
            'user "alice" has read',
        )
        assert (await alice.get("/v1/models/a/saas")).json() == []
        assert (await world.fingerprint("a"), await world.fingerprint("b")) == before

        granted = await world.admin.post(
            "/v1/users/alice/grant", json={"level": "consume", "offers": ["admin/b.db"]}
        )
        assert granted.status_code == 204, granted.text
        consumed = await alice.post("/v1/models/a/saas", json={"url": "admin/b.db"})
        assert consumed.status_code == 201, consumed.text
        assert consumed.json()["url"] == "admin/b.db"
        # Consume access to the offer does not let her remove it.
        _refused(
            await alice.post("/v1/models/b/offers/remove", json={"name": "db"}),
            'permission denied: write access to model "b" is required; user "alice" has read',
        )
