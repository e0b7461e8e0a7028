"""`credential-get` on a Kubernetes cloud: a trusted unit's own agent gets Juju's cloud spec
from the controller; an untrusted unit, another agent, or another unit's name is refused."""

from __future__ import annotations

import base64
import time
import uuid
from pathlib import Path

import httpx

from runecraft.controller import _passwords, services
from runecraft.controller.state import CloudRecord, Store
from runecraft.schemas import api
from tests.component._api import TOKEN, api_client
from tests.component.test_api import _charm, _upload

CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
KUBECONFIG = {
    "current-context": "ctx",
    "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
    "clusters": [
        {
            "name": "c",
            "cluster": {
                "server": "https://k8s.example:6443",
                "certificate-authority-data": base64.b64encode(CA.encode()).decode(),
            },
        }
    ],
    "users": [{"name": "u", "user": {"token": "sekret"}}],
}


async def _verify(store: Store, agent: str, password: str) -> bool:
    machine = await store.machine_by_agent(agent)
    return machine is not None and _passwords.verify_password(password, machine.password_hash)


async def test_k8s_credential_get_answers_only_a_trusted_units_own_agent(
    store: Store, tmp_path: Path
) -> None:
    await store.add_cloud(CloudRecord("k8s-test", "kubernetes", "", KUBECONFIG, time.time()))
    config = dict(services.DEFAULT_MODEL_CONFIG)
    await store.create_model("k", str(uuid.uuid4()), "k8s-test", config, model_type="caas")
    hub = services.ChangeHub()

    async def verify(agent: str, password: str) -> bool:
        return await _verify(store, agent, password)

    async with api_client(store, hub, published_revision=None, verify_agent=verify) as admin:
        sha = await _upload(admin, _charm(tmp_path, "web", {}))
        body = {"application": "web", "charm_sha256": sha, "num_units": 2}
        assert (await admin.post("/v1/models/k/applications", json=body)).status_code == 201
        snap = await store.snapshot()
        machines = {
            u.name: m for u in snap.units for m in snap.machines if m.number == u.machine_number
        }
        async with store.write("k") as tx:
            for unit, machine in machines.items():
                await tx.machines.update(machine, password_hash=_passwords.hash_password(unit))
        one = {"Authorization": f"Bearer {machines['web/0'].agent}:web/0"}

        async def ask(unit: str, headers: dict[str, str]) -> httpx.Response:
            return await admin.get("/v1/agent/credential", params={"unit": unit}, headers=headers)

        assert (await ask("web/0", one)).status_code == 403  # not trusted yet
        trusted = await admin.patch("/v1/models/k/applications/web/settings", json={"trust": True})
        assert trusted.status_code == 200, trusted.text
        answer = await ask("web/0", one)
        assert answer.status_code == 200, answer.text
        spec = answer.json()
        read = api.CloudSpec.model_validate(spec)  # what the route declares, unchanged
        assert read.model_dump(mode="json", by_alias=True) == spec
        assert spec["type"] == "kubernetes" and spec["name"] == "k8s-test"
        assert spec["endpoint"] == "https://k8s.example:6443"
        assert spec["credential"] == {"auth-type": "oauth2", "attrs": {"Token": "sekret"}}
        assert spec["cacertificates"] == [CA]
        # Another unit's name, the admin's token, a wrong password: all refused alike.
        assert (await ask("web/1", one)).status_code == 403
        assert (await ask("web/0", {"Authorization": f"Bearer {TOKEN}"})).status_code == 403
        wrong = {"Authorization": f"Bearer {machines['web/0'].agent}:nope"}
        assert (await ask("web/0", wrong)).status_code == 403
