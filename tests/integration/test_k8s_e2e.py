"""A Kubernetes model end to end: the real CLI and controller, the Kubernetes provider talking
to the test cluster through lightkube, each unit's agent running in its pod's charm container
(started by the test kubelet), real `ops` and bash charms. At each step the cluster holds
what it should (StatefulSet replicas, Service ports, no leftovers), and Debian's kubectl,
pointed at the same API, sees it too. Against a real cluster when KUBECONFIG is set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightkube.resources.apps_v1 import StatefulSet
from lightkube.resources.core_v1 import Namespace, Pod, Secret, Service, ServiceAccount
from lightkube.resources.rbac_authorization_v1 import RoleBinding

from tests.integration.conftest import EXAMPLES, Rune
from tests.k8s_cluster import ThreadedKubeCluster, kubectl_json

OURS = "app.kubernetes.io/managed-by=runecraft"


def objects(cluster: ThreadedKubeCluster, namespace: str) -> dict[str, dict[str, Any]]:
    """Our objects in the namespace, by kind then name."""

    async def read() -> dict[str, dict[str, Any]]:
        client = cluster.cluster.client()
        found: dict[str, dict[str, Any]] = {}
        try:
            for kind in (StatefulSet, Service, ServiceAccount, Secret, Pod):
                items = client.list(
                    kind, namespace=namespace, labels={"app.kubernetes.io/managed-by": "runecraft"}
                )
                found[kind.__name__] = {
                    o.metadata.name: o.to_dict() async for o in items if o.metadata
                }
        finally:
            await client.close()
        return found

    return cluster.run(read())


def namespace_exists(cluster: ThreadedKubeCluster, name: str) -> bool:
    async def read() -> bool:
        client = cluster.cluster.client()
        try:
            return any(
                [n.metadata and n.metadata.name == name async for n in client.list(Namespace)]
            )
        finally:
            await client.close()

    return cluster.run(read())


def replicas(found: dict[str, dict[str, Any]], app: str) -> int:
    return int(found["StatefulSet"][app]["spec"]["replicas"])


def test_k8s_model_deploys_integrates_scales_and_is_destroyed(
    rune: Rune, k8s_cluster: ThreadedKubeCluster
) -> None:
    rune("bootstrap")
    rune("add-k8s", "test-k8s", "--kubeconfig", str(k8s_cluster.kubeconfig))
    rune("add-model", "pods", "--cloud", "test-k8s")
    rune("deploy", str(EXAMPLES / "hello"), "hello", "-n", "3", "--config", "greeting=hi")
    rune("deploy", str(EXAMPLES / "hello-bash"))
    rune("integrate", "hello", "hello-bash")
    rune("wait", "--timeout", "5m")

    status = rune.status()
    assert status["model"]["type"] == "caas" and status["machines"] == {}
    found = objects(k8s_cluster, "pods")
    pod_ips = {name: pod["status"]["podIP"] for name, pod in found["Pod"].items()}
    hello = status["applications"]["hello"]
    assert hello["scale"] == 3 and sorted(hello["units"]) == ["hello/0", "hello/1", "hello/2"]
    for unit, doc in hello["units"].items():
        assert doc["workload-status"]["current"] == "active", doc
        assert "machine" not in doc
        pod = unit.replace("/", "-")
        assert (doc["provider-id"], doc["address"]) == (pod, pod_ips[pod])
    assert (
        status["applications"]["hello-bash"]["units"]["hello-bash/0"]["workload-status"]["current"]
        == "active"
    )
    assert (replicas(found, "hello"), replicas(found, "hello-bash")) == (3, 1)
    assert set(found["Service"]) == {
        "hello",
        "hello-endpoints",
        "hello-bash",
        "hello-bash-endpoints",
    }
    assert set(found["ServiceAccount"]) == {"hello", "hello-bash"}
    assert set(found["Secret"]) == {"hello-runecraft-agents", "hello-bash-runecraft-agents"}
    # A real client sees what Runecraft made.
    listed = kubectl_json(k8s_cluster.kubeconfig, "get", "statefulsets", "-n", "pods", "-l", OURS)
    assert {i["metadata"]["name"]: i["spec"]["replicas"] for i in listed["items"]} == {
        "hello": 3,
        "hello-bash": 1,
    }

    rune("scale-application", "hello", "1")
    rune("wait", "--timeout", "5m")
    status = rune.status()
    assert sorted(status["applications"]["hello"]["units"]) == ["hello/0"]
    found = objects(k8s_cluster, "pods")
    assert replicas(found, "hello") == 1 and "hello-1" not in found["Pod"]
    # The departing units ran their departure hooks in their pods before the pods went,
    # and the unit that stays saw them leave.
    if k8s_cluster.emulated:
        lines = k8s_cluster.pod_logs().splitlines()
        for unit in ("hello/1", "hello/2"):
            for hook in ("hello-peers-relation-departed", "stop", "remove"):
                ran = [
                    line for line in lines if f"unit='{unit}'" in line and f"hook='{hook}'" in line
                ]
                assert ran, f"{unit} did not run {hook} in its pod"
    seen = rune("debug-log", "--replay", "--no-tail", "-i", "hello/0").stdout
    assert 'running hook "hello-peers-relation-departed"' in seen

    rune("scale-application", "hello", "3")
    rune("wait", "--timeout", "5m")
    status = rune.status()
    assert sorted(status["applications"]["hello"]["units"]) == ["hello/0", "hello/1", "hello/2"]
    assert all(
        u["workload-status"]["current"] == "active"
        for u in status["applications"]["hello"]["units"].values()
    )
    assert replicas(objects(k8s_cluster, "pods"), "hello") == 3

    rune("remove-application", "hello")
    rune("wait", "--timeout", "5m")
    found = objects(k8s_cluster, "pods")
    assert set(found["StatefulSet"]) == {"hello-bash"}
    assert not any(
        name.startswith("hello-") and not name.startswith("hello-bash")
        for kind in found.values()
        for name in kind
    )

    rune("destroy-model", "pods", "--no-prompt", "--timeout", "5m")
    assert not namespace_exists(k8s_cluster, "pods")


SIDECAR_METADATA = """
name: sidecar
summary: a charm with a workload container, for the Kubernetes substrate
containers:
  web:
    resource: web-image
  cache:
    resource: cache-image
resources:
  web-image:
    type: oci-image
    upstream-source: nginx:1.27
  cache-image:
    type: oci-image
    upstream-source: redis:7
"""

SIDECAR_INSTALL = """#!/bin/sh
set -e
open-port 8080/tcp
status-set active "serving"
"""


def test_k8s_pods_carry_the_charms_containers_and_the_service_its_opened_ports(
    rune: Rune, k8s_cluster: ThreadedKubeCluster, tmp_path: Path
) -> None:
    charm = tmp_path / "sidecar"
    (charm / "hooks").mkdir(parents=True)
    (charm / "metadata.yaml").write_text(SIDECAR_METADATA)
    (charm / "hooks" / "install").write_text(SIDECAR_INSTALL)
    (charm / "hooks" / "install").chmod(0o755)
    image = tmp_path / "web-image.yaml"
    image.write_text("registrypath: registry.example/web:2\n")
    rune("bootstrap")
    rune("add-k8s", "test-k8s", "--kubeconfig", str(k8s_cluster.kubeconfig))
    rune("add-model", "side", "--cloud", "test-k8s")
    rune("deploy", str(charm), "--resource", f"web-image={image}", "--trust")
    rune("wait", "--timeout", "5m")

    found = objects(k8s_cluster, "side")
    template = found["StatefulSet"]["sidecar"]["spec"]["template"]["spec"]
    images = {c["name"]: c["image"] for c in template["containers"]}
    assert images == {
        "charm": images["charm"],
        "web": "registry.example/web:2",  # the attached resource
        "cache": "redis:7",  # the charm's upstream-source
    }
    ports = found["Service"]["sidecar"]["spec"]["ports"]
    assert [(p["port"], p["protocol"]) for p in ports] == [(8080, "TCP")]
    assert template["serviceAccountName"] == "sidecar"

    async def role_bound() -> bool:
        client = k8s_cluster.cluster.client()
        try:
            binding = await client.get(RoleBinding, "sidecar", namespace="side")
            return bool(binding.subjects and binding.subjects[0].name == "sidecar")
        finally:
            await client.close()

    assert k8s_cluster.run(role_bound())  # trusted: its ServiceAccount has a Role
