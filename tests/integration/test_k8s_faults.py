"""A Kubernetes model when the cluster misbehaves: the API refusing (403, 404, 409, 500) or
gone mid-deploy, a pod deleted behind the controller's back, a pod never scheduled. Each
shows in `rune status` as a clear unit status, converges once the fault is lifted, and
leaves the rest of the controller (a local model beside it) working."""

from __future__ import annotations

from typing import Any

import pytest
from lightkube.resources.core_v1 import Pod

from tests.integration.conftest import EXAMPLES, Rune, until
from tests.k8s_cluster import ThreadedKubeCluster, wait_for

HELLO_BASH = str(EXAMPLES / "hello-bash")


def k8s_model(rune: Rune, cluster: ThreadedKubeCluster, model: str = "pods") -> None:
    rune("bootstrap")
    rune("add-k8s", "test-k8s", "--kubeconfig", str(cluster.kubeconfig))
    rune("add-model", model, "--cloud", "test-k8s")


def unit_doc(rune: Rune, unit: str, model: str = "pods") -> dict[str, Any]:
    app = unit.split("/", maxsplit=1)[0]
    doc: dict[str, Any] = rune.status("-m", model)["applications"][app]["units"].get(unit, {})
    return doc


def workload(rune: Rune, unit: str) -> tuple[str, str]:
    status = unit_doc(rune, unit).get("workload-status", {})
    return status.get("current", ""), status.get("message", "")


def errored(rune: Rune, unit: str) -> tuple[str, str] | None:
    current, message = workload(rune, unit)
    return (current, message) if current == "error" else None


@pytest.mark.parametrize("code", [403, 404, 409, 500])
def test_k8s_api_refusal_is_a_unit_status_and_converges_when_lifted(
    rune: Rune, k8s_cluster: ThreadedKubeCluster, code: int
) -> None:
    k8s_model(rune, k8s_cluster)
    fault = k8s_cluster.faults.add(code, method="POST", path="/statefulsets")
    rune("deploy", HELLO_BASH)
    _, message = until(rune, "pods", "the refusal in status", lambda: errored(rune, "hello-bash/0"))
    assert f"Kubernetes refused to make StatefulSet hello-bash: {code}" in message
    # The rest of the controller goes on: a local model beside it deploys and settles.
    rune("add-model", "machines", "--cloud", "local", "--no-switch")
    rune("deploy", HELLO_BASH, "-m", "machines")
    rune("wait", "-m", "machines", "--timeout", "5m")
    k8s_cluster.faults.clear(fault)
    rune("wait", "--timeout", "5m")
    assert workload(rune, "hello-bash/0")[0] == "active"


def test_k8s_cluster_gone_mid_deploy_is_a_status_and_the_model_converges_when_back(
    rune: Rune, k8s_cluster: ThreadedKubeCluster
) -> None:
    k8s_model(rune, k8s_cluster)
    rune("deploy", HELLO_BASH)
    rune("wait", "--timeout", "5m")
    k8s_cluster.stop_server()
    rune("add-unit", "hello-bash", "-n", "2")
    _, message = until(rune, "pods", "the outage in status", lambda: errored(rune, "hello-bash/1"))
    assert "cannot reach the Kubernetes API" in message
    assert (
        rune.status()["applications"]["hello-bash"]["units"]["hello-bash/0"]["workload-status"][
            "current"
        ]
        == "active"
    )
    k8s_cluster.start_server()
    rune("wait", "--timeout", "5m")
    units = rune.status()["applications"]["hello-bash"]["units"]
    assert sorted(units) == ["hello-bash/0", "hello-bash/1", "hello-bash/2"]


def test_k8s_pod_deleted_is_made_again_and_its_unit_resumes(
    rune: Rune, k8s_cluster: ThreadedKubeCluster
) -> None:
    k8s_model(rune, k8s_cluster)
    rune("deploy", HELLO_BASH)
    rune("wait", "--timeout", "5m")

    async def delete_and_wait() -> dict[str, Any]:
        client = k8s_cluster.cluster.client()
        try:
            old = (await client.get(Pod, "hello-bash-0", namespace="pods")).to_dict()
            await client.delete(Pod, "hello-bash-0", namespace="pods")
            return await wait_for(
                client,
                Pod,
                "hello-bash-0",
                lambda pod: (
                    pod["metadata"]["uid"] != old["metadata"]["uid"]
                    and pod.get("status", {}).get("phase") == "Running"
                ),
                namespace="pods",
                timeout=120,
            )
        finally:
            await client.close()

    k8s_cluster.run(delete_and_wait(), timeout=150)
    # The new pod's agent is the unit's again: it takes new config, and did not install twice.
    rune("config", "hello-bash", "message=back again")
    until(
        rune,
        "pods",
        "the unit to say it is back",
        lambda: workload(rune, "hello-bash/0") == ("active", "back again") or None,
    )
    log = rune("debug-log", "--replay", "--no-tail", "-i", "hello-bash/0", "--limit", "0").stdout
    assert log.count('running hook "install"') == 1


def test_k8s_pod_never_scheduled_says_why_and_runs_once_scheduled(
    rune: Rune, k8s_cluster: ThreadedKubeCluster
) -> None:
    k8s_model(rune, k8s_cluster)
    hold = k8s_cluster.kubelet.hold(name="hello-bash-0")
    rune("deploy", HELLO_BASH)
    pending = until(
        rune,
        "pods",
        "the unit to show its pod pending",
        lambda: (
            unit_doc(rune, "hello-bash/0")
            if "Unschedulable" in workload(rune, "hello-bash/0")[1]
            else None
        ),
    )
    assert pending["workload-status"]["current"] == "waiting"
    assert pending["workload-status"]["message"].startswith(
        "pod pending: Unschedulable: 0/1 nodes are available"
    )
    assert pending["juju-status"]["current"] == "allocating"
    k8s_cluster.kubelet.release(hold)
    rune("wait", "--timeout", "5m")
    assert workload(rune, "hello-bash/0")[0] == "active"
