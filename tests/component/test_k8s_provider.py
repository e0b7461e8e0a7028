"""The Kubernetes provider against the test cluster, through lightkube as against a real one:
the objects it makes, its pods' states as machine states (watched, re-listed after 410), the
API's refusals as clear errors, objects it does not own left alone, a model's namespace gone
with it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import ops.pebble
import pytest
import yaml
from lightkube.resources.apps_v1 import StatefulSet
from lightkube.resources.core_v1 import Namespace, Pod, Secret, Service, ServiceAccount

from runecraft import charms, errors
from runecraft.controller import services
from runecraft.controller.providers import (
    ApplicationSpec,
    CloudSpec,
    InstanceState,
    MachineSpec,
    ProviderContext,
)
from runecraft.controller.providers.kubernetes import KubernetesProvider
from runecraft.controller.reconcilers._actions import ModelState
from runecraft.controller.reconcilers._workloads import Workloads
from runecraft.controller.state import Store
from runecraft.schemas import api
from runecraft.schemas.agent import BrokerAddress
from tests.k8s_cluster import KubeCluster, build, wait_gone

EXAMPLES = Path(__file__).parents[2] / "examples" / "charms"


class Harness:
    def __init__(self, cluster: KubeCluster, tmp_path: Path) -> None:
        self.cluster = cluster
        self.model_uuid = str(uuid.uuid4())
        self.model = f"k8s-{self.model_uuid[:8]}"
        self.woken = asyncio.Event()
        config = yaml.safe_load(cluster.kubeconfig.read_text())
        self.provider = KubernetesProvider(
            ProviderContext(
                controller_uuid="c",
                data_dir=tmp_path,
                cloud=CloudSpec("test-k8s", "kubernetes", cluster.url, config),
                changed=self._changed,
            )
        )

    def _changed(self, model_uuid: str) -> None:
        if model_uuid == self.model_uuid:
            self.woken.set()

    def spec(self, **changes: Any) -> ApplicationSpec:
        values: dict[str, Any] = {
            "model_name": self.model,
            "model_uuid": self.model_uuid,
            "name": "web",
            "charm": "web-k8s",
            "scale": 1,
            "containers": {"nginx": "nginx:1.27"},
            "agent_image": "agent:test",
            "ports": (("tcp", 80, 80),),
        }
        return ApplicationSpec(**(values | changes))

    def machine(self, number: int, unit: str) -> MachineSpec:
        return MachineSpec.for_agent(
            model_name=self.model,
            model_uuid=self.model_uuid,
            number=number,
            agent=f"machine-{number}",
            password="pw",
            # Nothing listens there: the agent keeps trying, its pod keeps running.
            broker=BrokerAddress(host="127.0.0.1", port=9, username="u", password="pw"),
            api_url="http://127.0.0.1:9",
            units=(unit,),
        )

    async def states(
        self, instances: dict[int, str], until: Callable[[dict[int, InstanceState]], bool]
    ) -> dict[int, InstanceState]:
        """The instances' states once `until` holds: asked again whenever the provider
        says the model's pods changed."""

        async def ask() -> dict[int, InstanceState]:
            while True:
                self.woken.clear()
                states = await self.provider.instance_states(self.model_uuid, instances)
                if until(states):
                    return states
                await self.woken.wait()

        return await asyncio.wait_for(ask(), 60)

    async def get(self, resource: Any, name: str, namespace: str | None = None) -> dict[str, Any]:
        client = self.cluster.client()
        try:
            found: dict[str, Any] = (
                await client.get(resource, name, namespace=namespace)
            ).to_dict()
            return found
        finally:
            await client.close()


@pytest.fixture
async def k8s(k8s_cluster_async: KubeCluster, tmp_path: Path) -> AsyncIterator[Harness]:
    harness = Harness(k8s_cluster_async, tmp_path)
    try:
        yield harness
    finally:
        await harness.provider.close()


async def test_k8s_provider_makes_the_applications_objects_and_runs_its_pods(k8s: Harness) -> None:
    ns = k8s.model
    info = await k8s.provider.ensure_machine(k8s.machine(4, "web/0"))
    assert (info.instance_id, info.hostname) == (f"{ns}/web-0", "web-0")
    await k8s.provider.ensure_application(k8s.spec(trust=True))

    namespace = await k8s.get(Namespace, ns)
    assert namespace["metadata"]["labels"]["runecraft.io/model-uuid"] == k8s.model_uuid
    stateful_set = await k8s.get(StatefulSet, "web", ns)
    assert stateful_set["spec"]["replicas"] == 1
    ports = (await k8s.get(Service, "web", ns))["spec"]["ports"]
    assert [(p["port"], p["protocol"]) for p in ports] == [(80, "TCP")]
    assert (await k8s.get(Service, "web-endpoints", ns))["spec"]["clusterIP"] == "None"
    assert (await k8s.get(ServiceAccount, "web", ns))["automountServiceAccountToken"] is True
    secret = await k8s.get(Secret, "web-runecraft-agents", ns)
    assert list(secret["data"]) == ["unit-0.json"]

    # The pod's charm container runs the unit agent with that config; it stays up.
    states = await k8s.states({4: info.instance_id}, lambda s: _up(s[4]) or s[4].failed)
    assert states[4] == InstanceState(running=True, address=states[4].address)
    pids = k8s.cluster.kubelet.processes(ns, "web-0")
    assert set(pids) == {"charm", "nginx"}  # the workload container runs Pebble


def _up(state: InstanceState) -> bool:
    """The pod runs, and no container of it waits (a pod starting has its address already)."""
    return bool(state.address) and not state.message and not state.failed


def _environ(pid: int) -> dict[str, str]:
    """A running process's environment, as the process was given it."""
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


async def _socket_answers(path: Path, deadline: float) -> ops.pebble.SystemInfo:
    """Pebble's system info through ops' own client, once its socket answers."""
    while True:
        try:
            client = ops.pebble.Client(socket_path=str(path))
            return await asyncio.to_thread(client.get_system_info)
        except ops.pebble.ConnectionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


async def test_k8s_sidecar_pod_installs_pebble_and_each_workload_answers_the_charm(
    k8s: Harness,
) -> None:
    """The init container installs the Pebble zipapp; each workload container runs it; the
    charm container reaches each one where ops looks, `/charm/containers/<c>/pebble.socket`
    under its `RUNECRAFT_CONTAINERS_DIR` (here, as the test kubelet rewrote it)."""
    ns = k8s.model
    info = await k8s.provider.ensure_machine(k8s.machine(0, "web/0"))
    await k8s.provider.ensure_application(k8s.spec(containers={"web": "w:1", "cache": "c:1"}))
    states = await k8s.states({0: info.instance_id}, lambda s: _up(s[0]) or s[0].failed)
    assert _up(states[0]), states[0]
    pod = await k8s.get(Pod, "web-0", ns)
    (init,) = pod["status"]["initContainerStatuses"]
    assert (init["name"], init["state"]["terminated"]["exitCode"]) == ("charm-init", 0)
    pids = k8s.cluster.kubelet.processes(ns, "web-0")
    assert set(pids) == {"charm", "web", "cache"}

    charm_env = _environ(pids["charm"])
    containers_dir = Path(charm_env["RUNECRAFT_CONTAINERS_DIR"])
    assert charm_env["JUJU_CONTAINER_NAMES"] == "cache,web"
    deadline = time.monotonic() + 30
    for name in ("web", "cache"):
        socket_path = containers_dir / name / "pebble.socket"
        assert len(str(socket_path)) <= 107
        system = await _socket_answers(socket_path, deadline)
        assert system.version
        workload_env = _environ(pids[name])
        assert workload_env["JUJU_CONTAINER_NAME"] == name
        assert Path(workload_env["PEBBLE_SOCKET"]) == socket_path
        assert Path(workload_env["PEBBLE"]) == containers_dir / name / "pebble"
        # Its program is the zipapp the init container put on the pod's volume.
        program = Path(f"/proc/{pids[name]}/cmdline").read_bytes().split(b"\0")
        assert any(part.endswith(b"/charm/bin/pebble") for part in program), program


async def test_k8s_provider_reports_a_pod_that_cannot_start_and_one_never_scheduled(
    k8s: Harness,
) -> None:
    hold = k8s.cluster.kubelet.hold(name="web-1")
    # Unit 0's pod has no config in the Secret: its agent exits, and the pod crash-loops.
    await k8s.provider.ensure_application(k8s.spec(scale=2))
    instances = {0: f"{k8s.model}/web-0", 1: f"{k8s.model}/web-1"}
    states = await k8s.states(
        instances, lambda s: s[0].failed and s[1].message.startswith("pod pending")
    )
    assert states[0].message.startswith('crash loop backoff: container "charm" restarted')
    assert states[1].message.startswith("pod pending: Unschedulable: 0/1 nodes are available")
    assert not states[1].failed
    k8s.cluster.kubelet.release(hold)
    await k8s.states(instances, lambda s: bool(s[1].address) or s[1].failed)


async def test_k8s_provider_keeps_watching_after_its_watch_version_is_gone(k8s: Harness) -> None:
    zero = await k8s.provider.ensure_machine(k8s.machine(0, "web/0"))
    await k8s.provider.ensure_application(k8s.spec())
    await k8s.states({0: zero.instance_id}, lambda s: bool(s[0].address))
    k8s.cluster.emulator.compact()
    k8s.cluster.emulator.close_watches()  # the watch asks again from a version now gone: 410
    # A pod it can only learn of by listing again.
    one = await k8s.provider.ensure_machine(k8s.machine(1, "web/1"))
    await k8s.provider.ensure_application(k8s.spec(scale=2))
    states = await k8s.states({1: one.instance_id}, lambda s: bool(s[1].address))
    assert states[1].running and not states[1].failed


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (403, errors.PermissionDeniedError),
        (404, errors.NotFoundError),
        (409, errors.TemporaryError),
        (500, errors.TemporaryError),
    ],
)
async def test_k8s_provider_api_refusals_are_clear_errors(
    k8s: Harness, code: int, error: type[errors.RunecraftError]
) -> None:
    fault = k8s.cluster.faults.add(code, method="POST", path="statefulsets")
    with pytest.raises(error) as raised:
        await k8s.provider.ensure_application(k8s.spec())
    assert f"Kubernetes refused to make StatefulSet web: {code}" in raised.value.message
    k8s.cluster.faults.clear(fault)
    await k8s.provider.ensure_application(k8s.spec())  # lifted: it converges
    assert (await k8s.get(StatefulSet, "web", k8s.model))["spec"]["replicas"] == 1


async def test_k8s_provider_leaves_what_it_does_not_own_alone(k8s: Harness) -> None:
    client = k8s.cluster.client()
    try:
        await client.create(build(Namespace, {"metadata": {"name": k8s.model}}))
        with pytest.raises(errors.PermanentError, match="not this model's"):
            await k8s.provider.ensure_application(k8s.spec())
        await k8s.provider.release_model(k8s.model, k8s.model_uuid)
        kept = await client.get(Namespace, k8s.model)
        assert kept.metadata is not None and kept.metadata.deletionTimestamp is None
    finally:
        await client.close()


async def test_k8s_provider_removes_an_application_and_then_the_models_namespace(
    k8s: Harness,
) -> None:
    await k8s.provider.ensure_machine(k8s.machine(0, "web/0"))
    await k8s.provider.ensure_application(k8s.spec())
    await k8s.provider.ensure_application(k8s.spec(name="db", ports=()))
    await k8s.provider.remove_application(k8s.model, k8s.model_uuid, "web")
    client = k8s.cluster.client()
    try:
        names = {
            s.metadata.name
            async for s in client.list(StatefulSet, namespace=k8s.model)
            if s.metadata
        }
        assert names == {"db"}
        services = {
            s.metadata.name async for s in client.list(Service, namespace=k8s.model) if s.metadata
        }
        assert services == {"db", "db-endpoints"}
        await k8s.provider.release_model(k8s.model, k8s.model_uuid)
        await wait_gone(client, Namespace, k8s.model)
    finally:
        await client.close()


async def test_k8s_a_restarted_controller_removes_an_application_gone_meanwhile(
    k8s: Harness, store: Store, tmp_path: Path
) -> None:
    """What the controller applied is kept in memory: a new one asks the cluster."""
    await k8s.provider.ensure_application(k8s.spec(name="gone"))
    assert await k8s.provider.application_names(k8s.model, k8s.model_uuid) == {"gone"}
    config = dict(services.DEFAULT_MODEL_CONFIG)
    await store.create_model(k8s.model, k8s.model_uuid, "test-k8s", config, model_type="caas")
    models = services.ModelService(store, services.ChangeHub())
    charm = await models.upload_charm(charms.pack(EXAMPLES / "hello-bash", tmp_path / "c").data)
    deploy = api.DeployRequest(application="kept", charm_sha256=charm.sha256, num_units=1)
    await models.deploy(k8s.model, deploy)
    snap = await store.snapshot(k8s.model_uuid)
    workloads = Workloads(store=store, providers=lambda _: k8s.provider, api_url="http://c")
    assert await workloads.apply(k8s.provider, ModelState.of(snap), snap, time.time())
    assert await k8s.provider.application_names(k8s.model, k8s.model_uuid) == {"kept"}
