"""What a model looks like on Kubernetes (pure manifests), what a pod's state means for its
unit's machine, and the workload planner: tables."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from runecraft.controller.providers import ApplicationSpec, InstanceState
from runecraft.controller.providers.kubernetes import _objects as o
from runecraft.controller.reconcilers import _workloads as w
from tests.unit import _records as records

UUID = records.MODEL_UUID


def spec(**changes: Any) -> ApplicationSpec:
    values: dict[str, Any] = {
        "model_name": "m",
        "model_uuid": UUID,
        "name": "web",
        "charm": "web-k8s",
        "scale": 3,
        "containers": {"nginx": "nginx:1.27"},
        "agent_image": "agent:1",
    }
    return ApplicationSpec(**(values | changes))


def test_k8s_every_object_carries_the_model_labels_and_is_owned_only_by_its_model() -> None:
    made = [
        o.namespace("m", UUID),
        o.service_account(spec(), "m"),
        o.service(spec(), "m"),
        o.endpoints_service(spec(), "m"),
        o.stateful_set(spec(), "m"),
        o.agent_secret(UUID, "web", "m"),
        o.role(spec(), "m"),
        o.role_binding(spec(), "m"),
    ]
    for manifest in made:
        assert o.owned(manifest, UUID), manifest["kind"]
        assert not o.owned(manifest, "another-model"), manifest["kind"]
    assert not o.owned({"metadata": {"name": "x"}}, UUID)
    assert not o.owned({"metadata": {"labels": {o.MODEL_LABEL: UUID}}}, UUID)


def test_k8s_stateful_set_runs_the_agent_beside_the_declared_workloads() -> None:
    manifest = o.stateful_set(spec(scale=2, trust=True), "m")
    pod = manifest["spec"]["template"]["spec"]
    assert manifest["spec"]["replicas"] == 2
    assert manifest["spec"]["serviceName"] == "web-endpoints"
    assert (
        manifest["spec"]["selector"]["matchLabels"]
        == manifest["spec"]["template"]["metadata"]["labels"]
    )
    charm, nginx = pod["containers"]
    assert charm["name"] == o.CHARM_CONTAINER and charm["image"] == "agent:1"
    assert "$(RUNECRAFT_POD_NAME)" in charm["args"]
    assert (nginx["name"], nginx["image"]) == ("nginx", "nginx:1.27")
    assert pod["serviceAccountName"] == "web" and pod["automountServiceAccountToken"] is True
    assert pod["volumes"][0]["secret"]["secretName"] == o.agent_secret_name("web")
    claims = [t["metadata"]["name"] for t in manifest["spec"]["volumeClaimTemplates"]]
    mounted = {m["name"] for m in charm["volumeMounts"]}
    assert set(claims) <= mounted


CHARM_DATA = {"name": "charm-data", "emptyDir": {}}
CHARM_MOUNTS = [
    {"name": "charm-data", "mountPath": "/charm/bin", "subPath": "charm/bin", "readOnly": True},
    {"name": "charm-data", "mountPath": "/charm/containers", "subPath": "charm/containers"},
]
INIT = {
    "name": "charm-init",
    "image": "agent:1",
    "command": ["python3", "-m", "runecraft.agents.pebble", "install", "/charm/bin/pebble"],
    "volumeMounts": [{"name": "charm-data", "mountPath": "/charm/bin", "subPath": "charm/bin"}],
}


def workload(name: str, image: str) -> dict[str, Any]:
    """A workload container as Juju 3.x runs it, less the probes' `--http` listener."""
    return {
        "name": name,
        "image": image,
        "command": ["/charm/bin/pebble"],
        "args": ["run", "--create-dirs", "--hold", "--verbose"],
        "env": [
            {"name": "JUJU_CONTAINER_NAME", "value": name},
            {"name": "PEBBLE", "value": "/charm/container/pebble"},
            {"name": "PEBBLE_SOCKET", "value": "/charm/container/pebble.socket"},
            {"name": "PEBBLE_COPY_ONCE", "value": "/var/lib/pebble/default"},
        ],
        "volumeMounts": [
            {
                "name": "charm-data",
                "mountPath": "/charm/bin/pebble",
                "subPath": "charm/bin/pebble",
                "readOnly": True,
            },
            {
                "name": "charm-data",
                "mountPath": "/charm/container",
                "subPath": f"charm/containers/{name}",
            },
        ],
    }


@pytest.mark.parametrize(
    ("containers", "init", "workloads"),
    [
        ({}, None, []),
        ({"nginx": "nginx:1.27"}, [INIT], [workload("nginx", "nginx:1.27")]),
        (
            {"web": "w:2", "cache": "redis:7"},
            [INIT],
            [workload("cache", "redis:7"), workload("web", "w:2")],
        ),
    ],
    ids=["no-containers", "one", "two-sorted"],
)
def test_k8s_pods_are_wired_for_pebble_as_juju_wires_them(
    containers: dict[str, str], init: list[dict[str, Any]] | None, workloads: list[Any]
) -> None:
    pod = o.stateful_set(spec(containers=containers), "m")["spec"]["template"]["spec"]
    assert pod.get("initContainers") == init
    assert CHARM_DATA in pod["volumes"]
    charm, *rest = pod["containers"]
    assert rest == workloads
    assert charm["volumeMounts"][-2:] == CHARM_MOUNTS
    env = {e["name"]: e.get("value") for e in charm["env"]}
    assert env["RUNECRAFT_CONTAINERS_DIR"] == "/charm/containers"
    assert env["JUJU_CONTAINER_NAMES"] == ",".join(sorted(containers))
    # What a workload sees at /charm/container is the charm's /charm/containers/<c>.
    for container in rest:
        mount = container["volumeMounts"][1]
        assert f"/charm/containers/{container['name']}" == "/" + mount["subPath"]


@pytest.mark.parametrize(
    ("ports", "exposed", "expected_ports", "expected_type"),
    [
        ((), False, [("placeholder", 65535, "TCP")], "ClusterIP"),
        ((("tcp", 80, 80),), True, [("tcp-80", 80, "TCP")], "LoadBalancer"),
        (
            (("udp", 53, 54), ("tcp", 80, 80)),
            False,
            [("tcp-80", 80, "TCP"), ("udp-53", 53, "UDP"), ("udp-54", 54, "UDP")],
            "ClusterIP",
        ),
    ],
)
def test_k8s_service_carries_the_opened_ports(
    ports: tuple[tuple[str, int, int], ...],
    exposed: bool,
    expected_ports: list[tuple[str, int, str]],
    expected_type: str,
) -> None:
    manifest = o.service(spec(ports=ports, exposed=exposed), "m")
    assert manifest["spec"]["type"] == expected_type
    assert [
        (p["name"], p["port"], p["protocol"]) for p in manifest["spec"]["ports"]
    ] == expected_ports


def test_k8s_agent_secret_holds_each_units_config_by_number() -> None:
    manifest = o.agent_secret(UUID, "web", "m", {2: '{"a": 1}', 0: "{}"})
    assert sorted(manifest["data"]) == [o.unit_key(0), o.unit_key(2)]
    assert json.loads(base64.b64decode(manifest["data"]["unit-2.json"])) == {"a": 1}


def _pod(phase: str = "Running", **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web-0"},
        "status": {"phase": phase, "podIP": "10.1.0.5", **status},
    }


def _waiting(reason: str, restarts: int = 0, message: str = "") -> dict[str, Any]:
    waiting = {"reason": reason, "message": message} if message else {"reason": reason}
    return {
        "containerStatuses": [
            {"name": "charm", "restartCount": restarts, "state": {"waiting": waiting}}
        ]
    }


UNSCHEDULED = {
    "conditions": [
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": "0/1 nodes are available",
        }
    ]
}


@pytest.mark.parametrize(
    ("pod", "expected", "state"),
    [
        (None, True, InstanceState(running=True, message="waiting for the pod")),
        (None, False, InstanceState(running=False, message="waiting for the pod")),
        (_pod(), True, InstanceState(running=True, address="10.1.0.5")),
        (
            _pod("Pending", podIP=None, **UNSCHEDULED),
            True,
            InstanceState(
                running=True, message="pod pending: Unschedulable: 0/1 nodes are available"
            ),
        ),
        (
            _pod(**_waiting("CrashLoopBackOff", 4, "back-off 40s")),
            True,
            InstanceState(
                running=True,
                address="10.1.0.5",
                message='crash loop backoff: container "charm" restarted 4 times: back-off 40s',
                failed=True,
            ),
        ),
        (
            _pod("Pending", **_waiting("ContainerCreating")),
            True,
            InstanceState(
                running=True, address="10.1.0.5", message='container "charm": ContainerCreating'
            ),
        ),
        (
            _pod("Pending", **_waiting("ImagePullBackOff")),
            True,
            InstanceState(
                running=True,
                address="10.1.0.5",
                message='container "charm": ImagePullBackOff',
                failed=True,
            ),
        ),
        (
            _pod("Failed", reason="Evicted"),
            True,
            InstanceState(running=True, address="10.1.0.5", message="pod Evicted", failed=True),
        ),
        (
            _pod(
                "Pending",
                initContainerStatuses=[
                    {
                        "name": "charm-init",
                        "restartCount": 2,
                        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    }
                ],
                **_waiting("PodInitializing"),
            ),
            True,
            InstanceState(
                running=True,
                address="10.1.0.5",
                message='crash loop backoff: init container "charm-init" restarted 2 times',
                failed=True,
            ),
        ),
        (
            _pod(
                "Pending",
                initContainerStatuses=[{"name": "charm-init", "state": {"running": {}}}],
                **_waiting("PodInitializing"),
            ),
            True,
            InstanceState(
                running=True, address="10.1.0.5", message='container "charm": PodInitializing'
            ),
        ),
        (
            {
                "metadata": {"name": "web-0", "deletionTimestamp": "t"},
                "status": {"phase": "Running"},
            },
            True,
            InstanceState(running=True, message="pod terminating"),
        ),
    ],
    ids=[
        "gone-expected",
        "gone-unexpected",
        "running",
        "unschedulable",
        "crash-loop",
        "creating",
        "image-pull",
        "evicted",
        "init-crash-loop",
        "initializing",
        "terminating",
    ],
)
def test_k8s_pod_state_becomes_the_units_machine_state(
    pod: dict[str, Any] | None, expected: bool, state: InstanceState
) -> None:
    assert o.instance_state(pod, expected) == state


@pytest.mark.parametrize(
    ("name", "number"), [("web-0", 0), ("my-app-12", 12), ("web", None), ("web-x", None)]
)
def test_k8s_unit_number_follows_the_pod_ordinal(name: str, number: int | None) -> None:
    assert o.ordinal(name) == number


# --- the reconciler's workload step -----------------------------------------------------------


def test_k8s_application_spec_scales_to_the_provisioned_units_with_images_and_ports() -> None:
    charm = records.charm(
        name="web-k8s",
        meta={
            "containers": {
                "nginx": {"resource": "nginx-image"},
                "side": {"resource": "side-image"},
            },
            "resources": {
                "nginx-image": {"type": "oci-image", "upstream-source": "nginx:1.27"},
                "side-image": {"type": "oci-image"},
            },
        },
    )
    units = [
        records.unit("web/0", machine_number=5, opened_ports=["80/tcp", "icmp"]),
        records.unit("web/1", machine_number=6, life="dying", opened_ports=["8000-8001/udp"]),
        records.unit("web/2", machine_number=7),  # its credential is not in the Secret yet
        records.unit("web/3", machine_number=8),
    ]
    model = records.model(config={"agent-image": "agent:2"}, type="caas")
    (made,) = w.application_specs(
        model,
        [records.app("web", trust=True)],
        units,
        {charm.sha256: charm},
        {("web", "side-image"): "side:3"},
        "https://c:17070",
        provisioned=frozenset({5, 6, 8}),
    )
    assert made.scale == 2  # pods 0 and 1; 3 waits for 2
    assert made.containers == {"nginx": "nginx:1.27", "side": "side:3"}
    assert made.ports == (("tcp", 80, 80), ("udp", 8000, 8001))
    assert (made.agent_image, made.trust, made.charm) == ("agent:2", True, "web-k8s")


def test_k8s_workloads_plan_changed_applications_due_and_removes_gone_ones() -> None:
    same, changed, failing = spec(name="same"), spec(name="changed", scale=1), spec(name="failing")
    applied = {
        "same": w.spec_digest(same),
        "changed": w.spec_digest(spec(name="changed", scale=3)),
        "gone": "x",
    }
    actions = w.plan_workloads([same, changed, failing], applied, {"failing": 20.0}, now=10.0)
    assert actions == [
        w.EnsureApplication(changed, w.spec_digest(changed)),
        w.RemoveApplication("gone"),
    ]
    later = w.plan_workloads([failing], {}, {"failing": 20.0}, now=20.0)
    assert later == [w.EnsureApplication(failing, w.spec_digest(failing))]
    # A removal the substrate refused waits for its retry too.
    assert w.plan_workloads([], {"gone": "x"}, {"gone": 20.0}, now=10.0) == []
    assert w.plan_workloads([], {"gone": "x"}, {"gone": 20.0}, now=20.0) == [
        w.RemoveApplication("gone")
    ]


@pytest.mark.parametrize(
    ("status", "message", "state", "expected"),
    [
        (
            "provisioning",
            "",
            InstanceState(running=True, message="pod pending: Unschedulable"),
            {"status": "pending", "status_message": "pod pending: Unschedulable"},
        ),
        ("started", "", InstanceState(running=True, message="cannot reach the Kubernetes API"), {}),
        (
            "started",
            "",
            InstanceState(running=True, message="crash loop", failed=True),
            {"status": "error", "status_message": "crash loop"},
        ),
        ("error", "crash loop", InstanceState(running=True, message="crash loop", failed=True), {}),
        (
            "error",
            "crash loop",
            InstanceState(running=True),
            {"status": "pending", "status_message": ""},
        ),
        ("started", "", InstanceState(running=True, address="10.0.0.9"), {"address": "10.0.0.9"}),
    ],
    ids=["pending-reason", "agent-up-wins", "crash-overrides", "unchanged", "recovered", "address"],
)
def test_k8s_pod_states_update_the_machine_rows(
    status: str, message: str, state: InstanceState, expected: dict[str, Any]
) -> None:
    machine = records.machine(0, status=status, status_message=message)
    updates = w.machine_updates([machine], {0: state}, now=5.0)
    got = updates.get(0, {})
    got.pop("status_since", None)
    assert got == expected
