"""The test Kubernetes cluster itself: the emulated API behaves as kube-apiserver does where
a controller relies on it, and the kubelet and StatefulSet controller act as a node would."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from lightkube import ApiError, AsyncClient
from lightkube.operators import in_, not_in
from lightkube.resources.apps_v1 import StatefulSet, StatefulSetScale
from lightkube.resources.core_v1 import ConfigMap, Namespace, Pod, PodStatus, Secret
from lightkube.types import PatchType

from tests.k8s_cluster import (
    KubeCluster,
    ThreadedKubeCluster,
    build,
    condition,
    is_ready,
    kubectl_json,
    wait_for,
    wait_gone,
)
from tests.k8s_cluster._patch import merge
from tests.k8s_cluster._podspec import expand
from tests.k8s_cluster._selectors import SelectorError, parse_selector

JSON = dict[str, Any]


@pytest.fixture
async def client(k8s_cluster_async: KubeCluster) -> AsyncIterator[AsyncClient]:
    api = k8s_cluster_async.client()
    try:
        yield api
    finally:
        await api.close()


@pytest.fixture
async def namespace(client: AsyncClient) -> AsyncIterator[str]:
    name = f"t-{uuid.uuid4().hex[:10]}"
    await client.create(build(Namespace, {"metadata": {"name": name}}))
    try:
        yield name
    finally:
        with contextlib.suppress(ApiError, httpx2.HTTPError):
            await client.delete(Namespace, name)


def config_map(name: str, namespace: str, labels: dict[str, str] | None = None) -> ConfigMap:
    meta: JSON = {"name": name, "namespace": namespace, "labels": labels or {}}
    return build(ConfigMap, {"metadata": meta, "data": {"k": "v"}})


def statefulset(
    name: str, namespace: str, replicas: int, command: list[str] | None, **labels: str
) -> StatefulSet:
    container: JSON = {"name": "charm", "image": "agent:test"}
    if command:
        container["command"] = command
    return build(
        StatefulSet,
        {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "replicas": replicas,
                "serviceName": f"{name}-endpoints",
                "podManagementPolicy": "Parallel",
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name, **labels}},
                    "spec": {"containers": [container, {"name": "workload", "image": "w:1"}]},
                },
            },
        },
    )


async def events(
    client: AsyncClient, resource: Any, namespace: str, version: str, count: int
) -> list[tuple[str, JSON]]:
    seen: list[tuple[str, JSON]] = []

    async def collect() -> None:
        async for kind, obj in client.watch(
            resource, namespace=namespace, resource_version=version
        ):
            seen.append((kind, obj.to_dict()))
            if len(seen) == count:
                return

    await asyncio.wait_for(collect(), 10)
    return seen


# -- pure parts, by table ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("app=web", {"app": "web"}, True),
        ("app==web", {"app": "db"}, False),
        ("app!=web", {}, True),
        ("tier", {"tier": "x"}, True),
        ("!tier", {"tier": "x"}, False),
        ("env in (prod, staging)", {"env": "staging"}, True),
        ("env notin (prod)", {"env": "prod"}, False),
        ("app=web,env in (a,b),!gone", {"app": "web", "env": "b"}, True),
        ("app=web,env in (a,b)", {"app": "web", "env": "c"}, False),
        ("", {"anything": "1"}, True),
    ],
)
def test_k8s_label_selector_table(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_selector(selector)(labels) is expected


def test_k8s_label_selector_refuses_garbage() -> None:
    with pytest.raises(SelectorError, match="a b c"):
        parse_selector("a b c")


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        ({"a": {"b": 1, "c": 2}}, {"a": {"b": 3}}, {"a": {"b": 3, "c": 2}}),
        ({"a": {"b": 1, "c": 2}}, {"a": {"c": None}}, {"a": {"b": 1}}),
        ({"l": [1, 2]}, {"l": [3]}, {"l": [3]}),
        ({"a": 1}, {"$patch": "merge", "b": 2}, {"a": 1, "b": 2}),
    ],
)
def test_k8s_merge_patch_table(target: JSON, patch: JSON, expected: JSON) -> None:
    assert merge(target, patch) == expected


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("$(A)/x", {"A": "1"}, "1/x"),
        ("$(MISSING)", {}, "$(MISSING)"),
        ("$$(A)", {"A": "1"}, "$(A)"),
        ("plain $A", {"A": "1"}, "plain $A"),
    ],
)
def test_k8s_var_expansion_table(text: str, env: dict[str, str], expected: str) -> None:
    assert expand(text, env) == expected


# -- the API -----------------------------------------------------------------------------------


async def test_k8s_resource_versions_move_and_watch_resumes(
    client: AsyncClient, namespace: str
) -> None:
    created = await client.create(config_map("one", namespace))
    assert created.metadata is not None and created.metadata.uid
    start = created.metadata.resourceVersion
    assert start is not None and created.metadata.creationTimestamp is not None
    patched = await client.patch(ConfigMap, "one", {"data": {"k": "w"}}, namespace=namespace)
    assert patched.metadata is not None and patched.metadata.resourceVersion is not None
    assert int(patched.metadata.resourceVersion) > int(start)
    same = await client.patch(ConfigMap, "one", {"data": {"k": "w"}}, namespace=namespace)
    assert same.metadata is not None
    assert same.metadata.resourceVersion == patched.metadata.resourceVersion  # a no-op
    await client.delete(ConfigMap, "one", namespace=namespace)

    seen = await events(client, ConfigMap, namespace, start, 2)
    assert [kind for kind, _ in seen] == ["MODIFIED", "DELETED"]
    versions = [int(obj["metadata"]["resourceVersion"]) for _, obj in seen]
    assert versions == sorted(versions) and versions[0] == int(patched.metadata.resourceVersion)


async def test_k8s_watch_past_history_is_gone_then_relist_resumes(
    k8s_cluster_async: KubeCluster, client: AsyncClient, namespace: str
) -> None:
    first = await client.create(config_map("first", namespace))
    assert first.metadata is not None and first.metadata.resourceVersion is not None
    await client.create(config_map("second", namespace))
    k8s_cluster_async.emulator.compact()

    with pytest.raises(ApiError) as gone:
        await events(client, ConfigMap, namespace, first.metadata.resourceVersion, 1)
    assert gone.value.status.code == 410 and gone.value.status.reason == "Expired"

    listing = client.list(ConfigMap, namespace=namespace)
    names = sorted([cm.metadata.name async for cm in listing if cm.metadata and cm.metadata.name])
    assert names == ["first", "kube-root-ca.crt", "second"]
    await client.create(config_map("third", namespace))
    seen = await events(client, ConfigMap, namespace, listing.resourceVersion, 1)
    assert seen[0][0] == "ADDED" and seen[0][1]["metadata"]["name"] == "third"


async def test_k8s_selectors_filter_lists_and_watches(client: AsyncClient, namespace: str) -> None:
    for name, labels in [("a", {"app": "web", "env": "prod"}), ("b", {"app": "db"}), ("c", {})]:
        await client.create(config_map(name, namespace, labels))

    async def names(**query: Any) -> list[str]:
        found = client.list(ConfigMap, namespace=namespace, **query)
        return sorted([cm.metadata.name async for cm in found if cm.metadata and cm.metadata.name])

    assert await names(labels={"app": "web"}) == ["a"]
    assert await names(labels={"app": in_(["web", "db"]), "env": not_in(["dev"])}) == ["a", "b"]
    listed = client.list(ConfigMap, namespace=namespace, fields={"metadata.name": "b"})
    assert [cm.metadata.name async for cm in listed if cm.metadata] == ["b"]
    base = listed.resourceVersion

    await client.patch(
        ConfigMap, "b", {"metadata": {"labels": {"app": "web"}}}, namespace=namespace
    )
    await client.patch(
        ConfigMap, "a", {"metadata": {"labels": {"app": "old"}}}, namespace=namespace
    )
    seen: list[tuple[str, str]] = []

    async def collect() -> None:
        async for kind, obj in client.watch(
            ConfigMap, namespace=namespace, labels={"app": "web"}, resource_version=base
        ):
            seen.append((kind, str(obj.metadata.name if obj.metadata else "")))
            if len(seen) == 2:
                return

    await asyncio.wait_for(collect(), 10)
    assert seen == [("ADDED", "b"), ("DELETED", "a")]


async def test_k8s_errors_are_status_bodies_and_subresources_keep_apart(
    k8s_cluster_async: KubeCluster, client: AsyncClient, namespace: str
) -> None:
    await client.create(config_map("one", namespace))
    with pytest.raises(ApiError) as exists:
        await client.create(config_map("one", namespace))
    assert (exists.value.status.code, exists.value.status.reason) == (409, "AlreadyExists")
    async with httpx.AsyncClient() as raw:
        answer = await raw.get(f"{k8s_cluster_async.url}/api/v1/namespaces/{namespace}/pods/nope")
    body = answer.json()
    assert answer.status_code == 404
    assert (body["kind"], body["reason"], body["code"]) == ("Status", "NotFound", 404)

    pod = build(
        Pod,
        {
            "metadata": {"name": "p", "namespace": namespace},
            "spec": {"containers": [{"name": "c", "image": "i"}], "nodeName": "elsewhere"},
        },
    )
    await client.create(pod)
    await client.patch(
        PodStatus,
        "p",
        {"status": {"phase": "Running"}},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )
    updated = await client.patch(
        Pod,
        "p",
        {"metadata": {"labels": {"x": "y"}}, "status": {"phase": "Failed"}},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )
    assert updated.status is not None and updated.status.phase == "Running"
    assert updated.metadata is not None and updated.metadata.labels == {"x": "y"}
    with pytest.raises(ApiError) as invalid:
        await client.create(config_map("Bad_Name", namespace))
    assert invalid.value.status.code == 422


async def test_k8s_replace_with_a_stale_version_conflicts(
    client: AsyncClient, namespace: str
) -> None:
    created = await client.create(config_map("one", namespace))
    await client.patch(ConfigMap, "one", {"data": {"k": "newer"}}, namespace=namespace)
    created.data = {"k": "stale"}
    with pytest.raises(ApiError) as stale:
        await client.replace(created)
    assert stale.value.status.code == 409
    fresh = await client.get(ConfigMap, "one", namespace=namespace)
    fresh.data = {"k": "replaced"}
    replaced = await client.replace(fresh)
    assert replaced.data == {"k": "replaced"}


async def test_k8s_watch_ends_after_its_timeout(
    k8s_cluster_async: KubeCluster, namespace: str
) -> None:
    url = f"{k8s_cluster_async.url}/api/v1/namespaces/{namespace}/configmaps"
    async with (
        httpx.AsyncClient(timeout=10) as raw,
        raw.stream("GET", url, params={"watch": "true", "timeoutSeconds": "1"}) as stream,
    ):
        lines = [line async for line in stream.aiter_lines() if line]
    assert [json.loads(line)["type"] for line in lines] == ["ADDED"]  # kube-root-ca.crt


async def test_k8s_namespace_delete_removes_what_is_in_it(
    client: AsyncClient, namespace: str
) -> None:
    await client.create(config_map("inside", namespace))
    listing = client.list(ConfigMap, namespace=namespace)
    assert len([cm async for cm in listing]) == 2
    await client.delete(Namespace, namespace)
    seen = await events(client, ConfigMap, namespace, listing.resourceVersion, 2)
    assert sorted(obj["metadata"]["name"] for kind, obj in seen if kind == "DELETED") == [
        "inside",
        "kube-root-ca.crt",
    ]
    assert [cm async for cm in client.list(ConfigMap, namespace=namespace)] == []
    await wait_gone(client, Namespace, namespace)


# -- the node ----------------------------------------------------------------------------------


def _ready_replicas(count: int) -> Any:
    return lambda sts: (
        (sts.get("status") or {}).get("readyReplicas") == count
        and (sts.get("status") or {}).get("replicas") == count
    )


async def test_k8s_statefulset_scales_and_recreates_its_pods(
    k8s_cluster_async: KubeCluster, client: AsyncClient, namespace: str
) -> None:
    _ = k8s_cluster_async.kubelet  # skips against a real cluster without our node
    await client.create(statefulset("app", namespace, 2, None))
    sts = await wait_for(client, StatefulSet, "app", _ready_replicas(2), namespace=namespace)
    pod = await wait_for(client, Pod, "app-1", is_ready, namespace=namespace)
    assert pod["metadata"]["labels"] == {
        "app": "app",
        "statefulset.kubernetes.io/pod-name": "app-1",
        "apps.kubernetes.io/pod-index": "1",
    }
    assert pod["metadata"]["ownerReferences"][0]["uid"] == sts["metadata"]["uid"]
    assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == ("app-1", "app-endpoints")
    other = await wait_for(client, Pod, "app-0", is_ready, namespace=namespace)
    assert other["status"]["podIP"] != pod["status"]["podIP"]

    scale = await client.get(StatefulSetScale, "app", namespace=namespace)
    assert scale.spec is not None and scale.spec.replicas == 2
    await client.patch(StatefulSetScale, "app", {"spec": {"replicas": 3}}, namespace=namespace)
    await wait_for(client, StatefulSet, "app", _ready_replicas(3), namespace=namespace)
    await client.patch(StatefulSet, "app", {"spec": {"replicas": 1}}, namespace=namespace)
    await wait_gone(client, Pod, "app-2", namespace=namespace)
    await wait_gone(client, Pod, "app-1", namespace=namespace)
    await wait_for(client, StatefulSet, "app", _ready_replicas(1), namespace=namespace)

    old_uid = (await client.get(Pod, "app-0", namespace=namespace)).metadata
    await client.delete(Pod, "app-0", namespace=namespace)
    again = await wait_for(
        client,
        Pod,
        "app-0",
        lambda p: is_ready(p) and p["metadata"]["uid"] != (old_uid.uid if old_uid else ""),
        namespace=namespace,
    )
    assert again["metadata"]["name"] == "app-0"
    await client.delete(StatefulSet, "app", namespace=namespace)
    await wait_gone(client, Pod, "app-0", namespace=namespace)


async def test_k8s_pod_process_runs_with_resolved_env_and_secret_volume(
    k8s_cluster_async: KubeCluster, client: AsyncClient, namespace: str, tmp_path: Path
) -> None:
    _ = k8s_cluster_async.kubelet
    out = tmp_path / "seen.json"
    await client.create(
        build(
            Secret,
            {
                "metadata": {"name": "creds", "namespace": namespace},
                "stringData": {"password": "s3cret", "user": "bob"},
            },
        )
    )
    await client.create(
        build(
            ConfigMap,
            {"metadata": {"name": "settings", "namespace": namespace}, "data": {"MODE": "fast"}},
        )
    )
    script = (
        "import json, os, sys; "
        "secret = open(os.environ['SECRET_DIR'] + '/pw').read(); "
        "keys = ['POD', 'NS', 'IP', 'USER', 'MODE', 'GREETING']; "
        "json.dump({'env': {k: os.environ.get(k) for k in keys}, 'secret': secret, "
        "'argv': sys.argv[1:]}, open(sys.argv[1], 'w'))"
    )
    container = {
        "name": "charm",
        "image": "agent:test",
        "command": ["python3", "-c", script],
        "args": ["$(OUT)", "/var/lib/creds/pw"],
        "env": [
            {"name": "OUT", "value": str(out)},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "USER", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "user"}}},
            {"name": "GREETING", "value": "hi $(USER)"},
            {"name": "SECRET_DIR", "value": "/var/lib/creds"},
        ],
        "envFrom": [{"configMapRef": {"name": "settings"}}],
        "volumeMounts": [{"name": "creds", "mountPath": "/var/lib/creds"}],
    }
    volume = {
        "name": "creds",
        "secret": {"secretName": "creds", "items": [{"key": "password", "path": "pw"}]},
    }
    await client.create(
        build(
            Pod,
            {
                "metadata": {"name": "runner", "namespace": namespace},
                "spec": {"containers": [container], "volumes": [volume], "restartPolicy": "Never"},
            },
        )
    )
    pod = await wait_for(
        client,
        Pod,
        "runner",
        lambda p: p.get("status", {}).get("phase") == "Succeeded",
        namespace=namespace,
    )
    seen = json.loads(out.read_text())
    assert seen["env"] == {
        "POD": "runner",
        "NS": namespace,
        "IP": pod["status"]["podIP"],
        "USER": "bob",
        "MODE": "fast",
        "GREETING": "hi bob",
    }
    assert seen["secret"] == "s3cret"
    assert seen["argv"][0] == str(out) and seen["argv"][1].endswith("/creds/pw")
    assert not seen["argv"][1].startswith("/var/lib/creds")
    state = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (state["exitCode"], state["reason"]) == (0, "Completed")


async def test_k8s_crashing_container_backs_off_and_counts_restarts(
    k8s_cluster_async: KubeCluster, client: AsyncClient, namespace: str
) -> None:
    _ = k8s_cluster_async.kubelet
    container = {"name": "charm", "image": "i", "command": ["python3", "-c", "raise SystemExit(3)"]}
    await client.create(
        build(
            Pod,
            {
                "metadata": {"name": "crash", "namespace": namespace},
                "spec": {"containers": [container]},
            },
        )
    )

    def backing_off(pod: JSON) -> bool:
        status = (pod.get("status", {}).get("containerStatuses") or [{}])[0]
        waiting = status.get("state", {}).get("waiting", {})
        return waiting.get("reason") == "CrashLoopBackOff" and int(status["restartCount"]) >= 2

    pod = await wait_for(client, Pod, "crash", backing_off, namespace=namespace)
    last = pod["status"]["containerStatuses"][0]["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (3, "Error")
    assert not is_ready(pod)


FIRST_INIT = (
    "import sys; from pathlib import Path; bin = Path(sys.argv[1]); "
    "(bin / 'tool').write_text("
    "'import socket, sys; from pathlib import Path\\n'"
    "'Path(sys.argv[1]).write_text(\"ran\")\\n'"
    "'socket.socket(socket.AF_UNIX).bind(sys.argv[2])\\n'); "
    "(bin / 'order').write_text('first\\n')"
)
SECOND_INIT = (
    "import sys; from pathlib import Path; bin = Path(sys.argv[1]); "
    "assert (bin / 'tool').is_file(); "
    "(bin / 'order').write_text((bin / 'order').read_text() + 'second\\n')"
)


async def test_k8s_init_containers_run_in_order_before_the_containers_with_subpath_mounts(
    k8s_cluster_async: KubeCluster, client: AsyncClient, namespace: str
) -> None:
    """Each init container runs to completion first; a subPath mount of a file (written
    by an init container) and one of a directory not there yet both work; a unix socket
    made on a pod volume fits AF_UNIX's length."""
    kubelet = k8s_cluster_async.kubelet
    inits = [
        {
            "name": name,
            "image": "agent:test",
            "command": ["python3", "-c", script, "/opt/bin"],
            "volumeMounts": [{"name": "data", "mountPath": "/opt/bin", "subPath": "bin"}],
        }
        for name, script in (("first", FIRST_INIT), ("second", SECOND_INIT))
    ]
    main = {
        "name": "main",
        "image": "w:1",
        "command": ["python3", "/usr/local/bin/tool"],
        "args": ["/state/out", "/state/workload-container.socket"],
        "volumeMounts": [
            {
                "name": "data",
                "mountPath": "/usr/local/bin/tool",
                "subPath": "bin/tool",
                "readOnly": True,
            },
            {"name": "data", "mountPath": "/state", "subPath": "state/main"},
        ],
    }
    spec = {
        "initContainers": inits,
        "containers": [main],
        "volumes": [{"name": "data", "emptyDir": {}}],
        "restartPolicy": "Never",
    }
    await client.create(
        build(Pod, {"metadata": {"name": "init", "namespace": namespace}, "spec": spec})
    )
    pod = await wait_for(
        client,
        Pod,
        "init",
        lambda p: p.get("status", {}).get("phase") in ("Succeeded", "Failed"),
        namespace=namespace,
    )
    assert pod["status"]["phase"] == "Succeeded", pod["status"]
    volumes = kubelet.volumes_dir(namespace, "init")
    assert volumes is not None
    assert (volumes / "data" / "bin" / "order").read_text() == "first\nsecond\n"
    assert (volumes / "data" / "state" / "main" / "out").read_text() == "ran"
    assert (volumes / "data" / "state" / "main" / "workload-container.socket").is_socket()
    statuses = pod["status"]["initContainerStatuses"]
    assert [(s["name"], s["ready"]) for s in statuses] == [("first", True), ("second", True)]
    assert all(s["state"]["terminated"]["reason"] == "Completed" for s in statuses)
    assert condition(pod, "Initialized")["status"] == "True"


@pytest.mark.parametrize("policy", ["Always", "Never"])
async def test_k8s_a_failing_init_container_holds_the_pod_back(
    k8s_cluster_async: KubeCluster, client: AsyncClient, namespace: str, policy: str
) -> None:
    """Restarted with back-off (kubectl's Init:CrashLoopBackOff), or the pod fails when it
    never restarts; its containers never start either way."""
    kubelet = k8s_cluster_async.kubelet
    init = {"name": "setup", "image": "i", "command": ["python3", "-c", "raise SystemExit(2)"]}
    main = {"name": "main", "image": "i", "command": ["python3", "-c", "input()"]}
    spec = {"initContainers": [init], "containers": [main], "restartPolicy": policy}
    await client.create(
        build(Pod, {"metadata": {"name": "stuck", "namespace": namespace}, "spec": spec})
    )

    def held(pod: JSON) -> bool:
        status = (pod.get("status", {}).get("initContainerStatuses") or [{}])[0]
        if policy == "Never":
            return bool(pod["status"].get("phase") == "Failed")
        waiting = status.get("state", {}).get("waiting", {})
        return waiting.get("reason") == "CrashLoopBackOff" and int(status["restartCount"]) >= 1

    pod = await wait_for(client, Pod, "stuck", held, namespace=namespace)
    setup = pod["status"]["initContainerStatuses"][0]
    assert setup["lastState"]["terminated"]["exitCode"] == 2 and not setup["ready"]
    initialized = condition(pod, "Initialized")
    assert (initialized["status"], initialized["reason"]) == ("False", "ContainersNotInitialized")
    assert initialized["message"] == "containers with incomplete status: [setup]"
    waiting = pod["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "PodInitializing"
    assert "main" not in kubelet.processes(namespace, "stuck")
    assert pod["status"]["phase"] == ("Failed" if policy == "Never" else "Pending")


async def test_k8s_held_pods_stay_unschedulable_until_released(
    k8s_cluster_async: KubeCluster, client: AsyncClient, namespace: str
) -> None:
    kubelet = k8s_cluster_async.kubelet
    hold = kubelet.hold(labels={"hold": "yes"})
    await client.create(statefulset("held", namespace, 1, None, hold="yes"))
    pod = await wait_for(
        client,
        Pod,
        "held-0",
        lambda p: condition(p, "PodScheduled").get("reason") == "Unschedulable",
        namespace=namespace,
    )
    assert pod["status"]["phase"] == "Pending" and not pod["spec"].get("nodeName")
    assert condition(pod, "PodScheduled")["message"].startswith("0/1 nodes are available")
    kubelet.release(hold)
    await wait_for(client, Pod, "held-0", is_ready, namespace=namespace)


# -- faults ------------------------------------------------------------------------------------


async def test_k8s_injected_403_raises_api_error_then_clears(
    k8s_cluster_async: KubeCluster, client: AsyncClient, namespace: str
) -> None:
    fault = k8s_cluster_async.faults.add(403, method="POST", path=r"/configmaps$", times=1)
    with pytest.raises(ApiError) as refused:
        await client.create(config_map("x", namespace))
    assert (refused.value.status.code, refused.value.status.reason) == (403, "Forbidden")
    await client.create(config_map("x", namespace))
    assert fault.hits == 1 and fault not in k8s_cluster_async.faults.active

    always = k8s_cluster_async.faults.add(500, path="/configmaps/x")
    for _ in range(2):
        with pytest.raises(ApiError) as broken:
            await client.get(ConfigMap, "x", namespace=namespace)
        assert broken.value.status.code == 500
    k8s_cluster_async.faults.clear(always)
    assert (await client.get(ConfigMap, "x", namespace=namespace)).data == {"k": "v"}


async def test_k8s_stopped_server_refuses_then_serves_on_the_same_url(
    k8s_cluster_async: KubeCluster, client: AsyncClient, namespace: str
) -> None:
    _ = k8s_cluster_async.kubelet
    await client.create(statefulset("app", namespace, 1, None))
    await wait_for(client, StatefulSet, "app", _ready_replicas(1), namespace=namespace)
    url = k8s_cluster_async.url

    await k8s_cluster_async.stop_server()
    with pytest.raises(httpx2.ConnectError):
        await client.get(StatefulSet, "app", namespace=namespace)
    await k8s_cluster_async.start_server()

    assert k8s_cluster_async.url == url
    await client.patch(StatefulSet, "app", {"spec": {"replicas": 2}}, namespace=namespace)
    await wait_for(client, StatefulSet, "app", _ready_replicas(2), namespace=namespace)


# -- a real client -----------------------------------------------------------------------------


def test_k8s_kubectl_lists_objects(k8s_cluster: ThreadedKubeCluster, tmp_path: Path) -> None:
    name = f"t-{uuid.uuid4().hex[:10]}"

    async def make() -> None:
        async with contextlib.aclosing(_Closing(k8s_cluster.cluster.client())) as api:
            await api.client.create(build(Namespace, {"metadata": {"name": name}}))
            await api.client.create(statefulset("web", name, 2, None))

    k8s_cluster.run(make())

    def kubectl(*args: str) -> JSON:
        return kubectl_json(k8s_cluster.kubeconfig, *args)

    namespaces = [item["metadata"]["name"] for item in kubectl("get", "namespaces")["items"]]
    assert name in namespaces
    sets = kubectl("get", "statefulsets", "-n", name)["items"]
    assert [(s["metadata"]["name"], s["spec"]["replicas"]) for s in sets] == [("web", 2)]

    async def remove() -> None:
        async with contextlib.aclosing(_Closing(k8s_cluster.cluster.client())) as api:
            await api.client.delete(Namespace, name)

    k8s_cluster.run(remove())


class _Closing:
    """A lightkube client for `contextlib.aclosing`."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client

    async def aclose(self) -> None:
        await self.client.close()
