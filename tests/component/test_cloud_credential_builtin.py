"""`credential-get` on a built-in cloud (the local substrate): once the application is
trusted, its unit's own agent gets Juju's cloud spec with the `empty` credential; before,
it is refused."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from runecraft.controller import _passwords, services
from runecraft.controller.state import Store
from tests.component._api import api_client
from tests.component.test_api import _charm, _upload
from tests.component.test_k8s_credential import _verify


async def test_credential_get_on_the_local_cloud_needs_trust_then_answers(
    store: Store, tmp_path: Path
) -> None:
    config = dict(services.DEFAULT_MODEL_CONFIG)
    await store.create_model("m", str(uuid.uuid4()), "local", config)
    hub = services.ChangeHub()

    async def verify(agent: str, password: str) -> bool:
        return await _verify(store, agent, password)

    async with api_client(store, hub, published_revision=None, verify_agent=verify) as admin:
        sha = await _upload(admin, _charm(tmp_path, "web", {}))
        body = {"application": "web", "charm_sha256": sha, "num_units": 1}
        assert (await admin.post("/v1/models/m/applications", json=body)).status_code == 201
        snap = await store.snapshot()
        machine = next(m for m in snap.machines if m.number == snap.units[0].machine_number)
        async with store.write("m") as tx:
            await tx.machines.update(machine, password_hash=_passwords.hash_password("pw"))
        own = {"Authorization": f"Bearer {machine.agent}:pw"}

        async def ask() -> httpx.Response:
            return await admin.get("/v1/agent/credential", params={"unit": "web/0"}, headers=own)

        refused = await ask()
        assert refused.status_code == 403, refused.text
        assert "permission denied" in refused.json()["error"]["message"]
        trusted = await admin.patch("/v1/models/m/applications/web/settings", json={"trust": True})
        assert trusted.status_code == 200, trusted.text
        answer = await ask()
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "type": "local",
            "name": "local",
            "region": "",
            "endpoint": "",
            "identity-endpoint": "",
            "storage-endpoint": "",
            "credential": {"auth-type": "empty", "attrs": {}},
            "cacertificates": [],
            "skip-tls-verify": False,
            "is-controller-cloud": False,
        }
