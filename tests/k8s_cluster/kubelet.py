"""A test-only kubelet (with the scheduler's binding step): runs pods as local processes.

It works only through the API: an informer on pods, lightkube calls for Secrets and
ConfigMaps, the binding and status subresources. Each container with a `command` runs as
`command + args` in its own session, with the environment kubelet would give it; a
container without one counts as running (its image is not run). Init containers run first,
one after the other, each until it exits 0 (backing off after failures, as kubelet does).
Volumes are host directories, see `_podspec` for the one liberty that takes; a mount's
subPath is made a directory when a container starts and it is missing, as kubelet does. Pod
volumes live under one short directory per kubelet (`<root>/<pod number>/<volume>`), so that
unix sockets made on them fit AF_UNIX's 107 bytes. Output of every container goes to one log
file per pod.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import msgspec
import structlog
from lightkube import ApiError, AsyncClient, KubeConfig
from lightkube.models.core_v1 import ObjectReference
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap, Pod, PodBinding, PodStatus, Secret
from lightkube.types import PatchType

from tests.k8s_cluster import _podspec
from tests.k8s_cluster.informer import JSON, Informer, server_of

log = structlog.get_logger("tests.k8s_cluster")

NODE_NAME = "emulated-node"
_UNSCHEDULABLE = "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(eq=False)
class Hold:
    """Pods the scheduler will not place: all of them, or those with this name, namespace
    and labels. They stay Pending with PodScheduled False (Unschedulable, `message`)."""

    name: str | None = None
    namespace: str | None = None
    labels: Mapping[str, str] | None = None
    message: str = _UNSCHEDULABLE

    def matches(self, pod: JSON) -> bool:
        meta = pod["metadata"]
        labels = meta.get("labels") or {}
        return (
            self.name in (None, meta.get("name"))
            and self.namespace in (None, meta.get("namespace"))
            and all(labels.get(k) == v for k, v in (self.labels or {}).items())
        )


@dataclass(eq=False)
class Container:
    """One container's run: its process and the status kubelet reports for it."""

    name: str
    image: str
    argv: list[str] | None
    env: dict[str, str]
    cwd: Path
    subpaths: list[Path] = field(default_factory=list)
    """Host directories of its subPath mounts, made when missing as it starts."""
    init: bool = False
    state: JSON = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    last_state: JSON = field(default_factory=dict)
    restarts: int = 0
    started_once: bool = False
    finished: bool = False
    process: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        return "running" in self.state

    @property
    def completed(self) -> bool:
        return self.finished and self.state.get("terminated", {}).get("exitCode") == 0

    def status(self) -> JSON:
        return {
            "name": self.name,
            "image": self.image,
            "imageID": "",
            "containerID": f"emulated://{self.process.pid}" if self.process else "",
            "ready": self.completed if self.init else self.running,
            "started": self.running,
            "restartCount": self.restarts,
            "state": self.state,
            "lastState": self.last_state,
        }


def _condition(kind: str, ok: bool, since: dict[str, tuple[bool, str]], **extra: str) -> JSON:
    if since.get(kind, (None, ""))[0] != ok:
        since[kind] = (ok, _now())
    return {
        "type": kind,
        "status": "True" if ok else "False",
        "lastProbeTime": None,
        "lastTransitionTime": since[kind][1],
        **extra,
    }


class PodRun:
    """A pod's sandbox on this node: its directory, IP, containers and status reports."""

    def __init__(self, kubelet: Kubelet, pod: JSON, ip: str) -> None:
        meta = pod["metadata"]
        self.kubelet = kubelet
        self.pod = pod
        self.ip = ip
        self.key = (meta["namespace"], meta["name"])
        self.dir = (
            kubelet.workdir / "pods" / f"{meta['namespace']}_{meta['name']}_{meta['uid'][:8]}"
        )
        self.volumes_dir = kubelet.pod_volumes_dir()
        self.log_path = self.dir / "pod.log"
        self.init_containers: list[Container] = []
        self.containers: list[Container] = []
        self.prepared = False
        self.initialized = False
        self.init_failed = False
        self.config_error = ""
        self.started_at = _now()
        self.stopping = False
        self._since: dict[str, tuple[bool, str]] = {}
        self._changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # -- life --------------------------------------------------------------------------------

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.volumes_dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "volumes").symlink_to(self.volumes_dir)  # where to look, when debugging
        self.log_path.touch()
        self._tasks.append(asyncio.create_task(self._report_loop()))
        self._tasks.append(asyncio.create_task(self._prepare_and_run()))
        self.changed()

    async def stop(self) -> None:
        """SIGTERM every container's session, SIGKILL what is left after the grace period."""
        self.stopping = True
        grace = min(
            float(self.pod["spec"].get("terminationGracePeriodSeconds", 30)),
            self.kubelet.grace_cap,
        )
        processes = [
            c.process
            for c in [*self.init_containers, *self.containers]
            if c.process and c.process.returncode is None
        ]
        for process in processes:
            _signal(process, signal.SIGTERM)
        if processes:
            await asyncio.wait([asyncio.ensure_future(p.wait()) for p in processes], timeout=grace)
            for process in processes:
                if process.returncode is None:
                    _signal(process, signal.SIGKILL)
            for process in processes:
                await process.wait()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _prepare_and_run(self) -> None:
        while not self.prepared:
            try:
                self.init_containers, self.containers = await self._containers()
                self.prepared = True
                self.config_error = ""
            except _podspec.ConfigError as exc:
                self.config_error = str(exc)
                self.changed()
                await asyncio.sleep(self.kubelet.backoff)
        for init in self.init_containers:
            if not await self._run_init(init):
                return
        self.initialized = True
        self.changed()
        for container in self.containers:
            self._tasks.append(asyncio.create_task(self._run(container)))

    async def _containers(self) -> tuple[list[Container], list[Container]]:
        """The pod's init containers and containers, ready to run."""
        objects = await self.kubelet.fetch_references(self.pod)
        mounts = self._volumes(objects)
        spec = self.pod["spec"]
        inits = [self._container(c, objects, mounts) for c in spec.get("initContainers") or []]
        containers = [self._container(c, objects, mounts) for c in spec["containers"]]
        for container in inits:
            container.init = True
            container.state = {"waiting": {"reason": "PodInitializing"}}
        if inits:
            for container in containers:
                container.state = {"waiting": {"reason": "PodInitializing"}}
        return inits, containers

    def _volumes(self, objects: _podspec.Objects) -> dict[str, Path]:
        hosts: dict[str, Path] = {}
        for volume in self.pod["spec"].get("volumes") or []:
            host = self._volume_dir(volume)
            host.mkdir(parents=True, exist_ok=True)
            files = _podspec.volume_files(volume, objects)
            for relative, (content, mode) in (files or {}).items():
                target = host / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
                target.chmod(mode)
            hosts[volume["name"]] = host
        return hosts

    def _volume_dir(self, volume: JSON) -> Path:
        if "persistentVolumeClaim" in volume:
            claim = str(volume["persistentVolumeClaim"]["claimName"])
            return Path(self.kubelet.workdir, "claims", self.key[0], claim)
        if "hostPath" in volume:
            return Path(str(volume["hostPath"]["path"]))
        return self.volumes_dir / str(volume["name"])

    def _container(
        self, spec: JSON, objects: _podspec.Objects, volumes: dict[str, Path]
    ) -> Container:
        mounts = [
            (m["mountPath"], volumes[m["name"]] / m.get("subPath", ""))
            for m in spec.get("volumeMounts") or []
            if m.get("name") in volumes
        ]
        subpaths = [
            volumes[m["name"]] / m["subPath"]
            for m in spec.get("volumeMounts") or []
            if m.get("name") in volumes and m.get("subPath")
        ]
        # The sandbox exists before its containers: status.podIP is known to their env.
        status = {**self.pod.get("status", {}), "podIP": self.ip, "hostIP": "127.0.0.1"}
        env = _podspec.container_env(spec, {**self.pod, "status": status}, objects)
        env = {k: _podspec.rewrite(v, mounts) for k, v in env.items()}
        argv = None
        if spec.get("command"):
            argv = [
                _podspec.rewrite(_podspec.expand(str(part), env), mounts)
                for part in [*spec["command"], *(spec.get("args") or [])]
            ]
        cwd = (
            Path(_podspec.rewrite(spec["workingDir"], mounts))
            if spec.get("workingDir")
            else self.dir
        )
        return Container(spec["name"], spec.get("image", ""), argv, env, cwd, subpaths)

    async def _run(self, container: Container) -> None:
        policy = self.pod["spec"].get("restartPolicy", "Always")
        while not self.stopping:
            if container.argv is None:
                container.state = {"running": {"startedAt": _now()}}
                container.started_once = True
                self.changed()
                return
            code = await self._once(container)
            if self.stopping:
                return
            if policy == "Never" or (policy == "OnFailure" and code == 0):
                container.finished = True
                self.changed()
                return
            await self._back_off(container)

    async def _run_init(self, container: Container) -> bool:
        """Run an init container until it exits 0 (True); a failure is retried after a
        back-off, unless the pod never restarts anything: then the pod has failed."""
        while not self.stopping:
            code = 0 if container.argv is None else await self._once(container)
            if self.stopping:
                return False
            if code == 0:
                container.finished = True
                if container.argv is None:
                    container.state = {"terminated": {"exitCode": 0, "reason": "Completed"}}
                self.changed()
                return True
            if self.pod["spec"].get("restartPolicy", "Always") == "Never":
                container.finished = self.init_failed = True
                self.changed()
                return False
            await self._back_off(container)
        return False

    async def _back_off(self, container: Container) -> None:
        delay = min(self.kubelet.backoff * 2**container.restarts, self.kubelet.backoff_max)
        container.state = {
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": f"back-off {delay:.1f}s restarting failed container="
                f"{container.name} pod={self.key[1]}",
            }
        }
        self.changed()
        await asyncio.sleep(delay)
        container.restarts += 1

    async def _once(self, container: Container) -> int:
        assert container.argv is not None
        with self.log_path.open("ab") as log_file:
            log_file.write(f"--- {container.name}: {container.argv}\n".encode())
            log_file.flush()
            env = {**self.kubelet.base_env(self.pod), **container.env}
            container.cwd.mkdir(parents=True, exist_ok=True)
            for subpath in container.subpaths:
                if not subpath.exists():
                    subpath.mkdir(parents=True)
            try:
                process = await asyncio.create_subprocess_exec(
                    *container.argv,
                    env=env,
                    cwd=container.cwd,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=log_file,
                    start_new_session=True,
                )
            except OSError as exc:
                log_file.write(f"--- {container.name}: cannot start: {exc}\n".encode())
                return self._terminated(container, 128, "StartError", _now())
        started = _now()
        container.process = process
        container.started_once = True
        container.state = {"running": {"startedAt": started}}
        self.changed()
        code = await process.wait()
        return self._terminated(container, code, "Completed" if code == 0 else "Error", started)

    def _terminated(self, container: Container, code: int, reason: str, started: str) -> int:
        finished = {
            "exitCode": code if code >= 0 else 128 - code,
            "reason": reason,
            "startedAt": started,
            "finishedAt": _now(),
        }
        container.state = {"terminated": finished}
        container.last_state = {"terminated": finished}
        self.changed()
        return code

    # -- status ------------------------------------------------------------------------------

    def changed(self) -> None:
        self._changed.set()

    def status(self) -> JSON:
        ready = self.initialized and all(c.running for c in self.containers)
        initialized = self.initialized or not self.pod["spec"].get("initContainers")
        pending = [c.name for c in self.init_containers if not c.completed] or [
            c["name"] for c in self.pod["spec"].get("initContainers") or []
        ]
        not_initialized = {
            "reason": "ContainersNotInitialized",
            "message": f"containers with incomplete status: [{' '.join(pending)}]",
        }
        status: JSON = {
            "phase": self._phase(),
            "conditions": [
                _condition("PodScheduled", True, self._since),
                _condition(
                    "Initialized",
                    initialized,
                    self._since,
                    **({} if initialized else not_initialized),
                ),
                _condition("ContainersReady", ready, self._since),
                _condition("Ready", ready, self._since),
            ],
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": self.ip,
            "podIPs": [{"ip": self.ip}],
            "startTime": self.started_at,
            "qosClass": "BestEffort",
            "containerStatuses": self._statuses(self.containers, "containers"),
        }
        if self.pod["spec"].get("initContainers"):
            status["initContainerStatuses"] = self._statuses(self.init_containers, "initContainers")
        return status

    def _statuses(self, containers: list[Container], field: str) -> list[JSON]:
        """The containers' statuses; before they exist, why they wait (for each in the spec)."""
        if self.prepared:
            return [c.status() for c in containers]
        has_inits = bool(self.pod["spec"].get("initContainers"))
        if self.config_error and (field == "initContainers" or not has_inits):
            waiting = {"reason": "CreateContainerConfigError", "message": self.config_error}
        elif has_inits:
            waiting = {"reason": "PodInitializing"}
        else:
            waiting = {"reason": "ContainerCreating"}
        return [
            {
                "name": spec["name"],
                "image": spec.get("image", ""),
                "imageID": "",
                "ready": False,
                "started": False,
                "restartCount": 0,
                "state": {"waiting": waiting},
            }
            for spec in self.pod["spec"][field]
        ]

    def _phase(self) -> str:
        if self.init_failed:
            return "Failed"
        if not self.initialized or not all(c.started_once for c in self.containers):
            return "Pending"
        if all(c.finished for c in self.containers):
            codes = [c.state.get("terminated", {}).get("exitCode", 1) for c in self.containers]
            return "Succeeded" if all(code == 0 for code in codes) else "Failed"
        return "Running"

    async def _report_loop(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            if not await self.kubelet.report(self):
                await asyncio.sleep(0.1)  # the API is away: report again shortly
                self._changed.set()


def _short_tmp() -> str | None:
    """/tmp when there is one: `$TMPDIR` may be long, and sockets are made below."""
    return "/tmp" if os.path.isdir("/tmp") else None


def _signal(process: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


class Kubelet:
    """The node: binds pods to itself (unless held), runs them, reports their status."""

    def __init__(
        self,
        kubeconfig: Path,
        workdir: Path,
        *,
        backoff: float = 0.2,
        backoff_max: float = 5.0,
        grace_cap: float = 3.0,
        node_name: str = NODE_NAME,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.workdir = workdir
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.grace_cap = grace_cap
        self.node_name = node_name
        self._client: AsyncClient | None = None
        self._informer: Informer | None = None
        self._runs: dict[str, PodRun] = {}
        self._stopping: set[asyncio.Task[None]] = set()
        self._holds: list[Hold] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ip_prefix = f"127.{random.randint(16, 250)}"
        self._ips = 0
        self._volumes_root: Path | None = None
        self._pods_made = 0
        self._api = urllib.parse.urlsplit("http://127.0.0.1")

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._volumes_root = Path(tempfile.mkdtemp(prefix="kv", dir=_short_tmp()))
        config = KubeConfig.from_file(self.kubeconfig)
        self._api = urllib.parse.urlsplit(server_of(config))
        self._client = AsyncClient(config=config)
        self._informer = Informer(self._client, Pod, self._on_pod)
        self._informer.start()
        await self._informer.synced.wait()

    async def stop(self) -> None:
        """Kill every pod's processes (TERM, then KILL after the capped grace period)."""
        if self._informer is not None:
            await self._informer.stop()
        runs, self._runs = list(self._runs.values()), {}
        await asyncio.gather(*(run.stop() for run in runs), *self._stopping)
        if self._client is not None:
            await self._client.close()
        if self._volumes_root is not None:
            shutil.rmtree(self._volumes_root, ignore_errors=True)
            self._volumes_root = None

    # -- knobs for tests ---------------------------------------------------------------------

    def hold(
        self,
        *,
        name: str | None = None,
        namespace: str | None = None,
        labels: Mapping[str, str] | None = None,
        message: str = _UNSCHEDULABLE,
    ) -> Hold:
        """Leave matching pods unscheduled (all pods when nothing is given) until `release`.
        Safe to call from any thread."""
        hold = Hold(name, namespace, dict(labels) if labels else None, message)
        with self._lock:
            self._holds.append(hold)
        self._rescan()
        return hold

    def release(self, hold: Hold | None = None) -> None:
        """Lift one hold, or all of them; the pods they kept Pending are then scheduled."""
        with self._lock:
            self._holds = [h for h in self._holds if hold is not None and h is not hold]
        self._rescan()

    def processes(self, namespace: str, name: str) -> dict[str, int]:
        """The pid of each running container process of the pod (by container name, init
        containers too)."""
        for run in list(self._runs.values()):
            if run.key == (namespace, name):
                return {
                    c.name: c.process.pid
                    for c in [*run.init_containers, *run.containers]
                    if c.process is not None and c.process.returncode is None
                }
        return {}

    def volumes_dir(self, namespace: str, name: str) -> Path | None:
        """The host directory holding the current pod of that name's volumes (by name)."""
        for run in list(self._runs.values()):
            if run.key == (namespace, name):
                return run.volumes_dir
        return None

    def log_path(self, namespace: str, name: str) -> Path | None:
        """The current pod of that name's log file (all its containers' output)."""
        for run in list(self._runs.values()):
            if run.key == (namespace, name):
                return run.log_path
        return None

    def logs(self) -> str:
        """Every pod's log so far (pods that are gone too), headed by the pod's directory."""
        chunks = []
        for path in sorted((self.workdir / "pods").glob("*/pod.log")):
            chunks.append(f"=== {path.parent.name}\n{path.read_text(errors='replace')}")
        return "\n".join(chunks)

    def _rescan(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return

        def rescan() -> None:
            if self._informer is None:
                return
            for pod in list(self._informer.cache.values()):
                task = asyncio.ensure_future(self._on_pod("MODIFIED", pod))
                self._stopping.add(task)
                task.add_done_callback(self._stopping.discard)

        loop.call_soon_threadsafe(rescan)

    # -- what the informer drives ------------------------------------------------------------

    async def _on_pod(self, event: str, pod: JSON) -> None:
        uid = pod["metadata"]["uid"]
        if event == "DELETED" or pod["metadata"].get("deletionTimestamp"):
            self._forget(uid)
            return
        run = self._runs.get(uid)
        if run is not None:
            run.pod["metadata"] = pod["metadata"]
            return
        node = pod["spec"].get("nodeName")
        if not node:
            await self._schedule(pod)
        elif node == self.node_name and pod.get("status", {}).get("phase") not in (
            "Succeeded",
            "Failed",
        ):
            self._ips += 1
            ip = f"{self._ip_prefix}.{self._ips // 250 % 250}.{self._ips % 250 + 1}"
            run = PodRun(self, pod, ip)
            self._runs[uid] = run
            run.start()

    def _forget(self, uid: str) -> None:
        run = self._runs.pop(uid, None)
        if run is not None:
            run.stopping = True  # from now on it reports nothing
            task = asyncio.ensure_future(run.stop())
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    async def _schedule(self, pod: JSON) -> None:
        assert self._client is not None
        meta = pod["metadata"]
        with self._lock:
            hold = next((h for h in reversed(self._holds) if h.matches(pod)), None)
        try:
            if hold is None:
                await self._bind(meta)
            else:
                await self._unschedulable(pod, hold)
        except ApiError as exc:
            if exc.status.code not in (404, 409):
                log.info("kubelet.schedule_failed", pod=meta["name"], code=exc.status.code)
        except (httpx2.HTTPError, OSError) as exc:
            log.info("kubelet.schedule_failed", pod=meta["name"], error=str(exc))

    async def _bind(self, meta: JSON) -> None:
        assert self._client is not None
        # The API answers a Status, not the Binding lightkube decodes: the bind is done then.
        with contextlib.suppress(msgspec.ValidationError):
            await self._client.create(
                PodBinding(
                    metadata=ObjectMeta(name=meta["name"], namespace=meta["namespace"]),
                    target=ObjectReference(kind="Node", name=self.node_name),
                ),
                meta["name"],
                namespace=meta["namespace"],
            )

    async def _unschedulable(self, pod: JSON, hold: Hold) -> None:
        assert self._client is not None
        conditions = pod.get("status", {}).get("conditions") or []
        if any(
            c.get("reason") == "Unschedulable" and c.get("message") == hold.message
            for c in conditions
        ):
            return
        status = {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": hold.message,
                    "lastProbeTime": None,
                    "lastTransitionTime": _now(),
                }
            ],
        }
        await self._client.patch(
            PodStatus,
            pod["metadata"]["name"],
            {"status": status},
            namespace=pod["metadata"]["namespace"],
            patch_type=PatchType.MERGE,
        )

    # -- what pod runs use -------------------------------------------------------------------

    def pod_volumes_dir(self) -> Path:
        """A new pod's volume directory: short, for the unix sockets made on its volumes."""
        assert self._volumes_root is not None, "the kubelet is not started"
        self._pods_made += 1
        return self._volumes_root / str(self._pods_made)

    async def fetch_references(self, pod: JSON) -> dict[tuple[str, str], JSON]:
        assert self._client is not None
        found: dict[tuple[str, str], JSON] = {}
        namespace = pod["metadata"]["namespace"]
        for kind, name in _podspec.references(pod):
            resource: Any = Secret if kind == "Secret" else ConfigMap
            try:
                obj = await self._client.get(resource, name, namespace=namespace)
            except ApiError as exc:
                if exc.status.code != 404:
                    raise _podspec.ConfigError(f"{kind} {name}: {exc.status.message}") from exc
                continue
            except (httpx2.HTTPError, OSError) as exc:
                raise _podspec.ConfigError(f"{kind} {name}: {exc}") from exc
            found[(kind, name)] = obj.to_dict()
        return found

    def base_env(self, pod: JSON) -> dict[str, str]:
        """What every container gets before its own env: PATH and locale from the host, the
        pod's hostname, and the API's service address as kubelet injects it. The "image" is
        this test environment: its Python (with Runecraft installed) is first on PATH, as an
        agent image's would be."""
        url = self._api
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ")}
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env.update(
            HOSTNAME=pod["spec"].get("hostname") or pod["metadata"]["name"],
            HOME=str(self.workdir),
            KUBERNETES_SERVICE_HOST=url.hostname or "",
            KUBERNETES_SERVICE_PORT=str(url.port or 443),
        )
        return env

    async def report(self, run: PodRun) -> bool:
        """Send the run's status; False when it should be tried again."""
        assert self._client is not None
        if run.stopping:
            return True
        try:
            await self._client.patch(
                PodStatus,
                run.key[1],
                {"metadata": {"uid": run.pod["metadata"]["uid"]}, "status": run.status()},
                namespace=run.key[0],
                patch_type=PatchType.MERGE,
            )
        except ApiError as exc:
            return exc.status.code in (404, 409)  # gone, or another pod of that name
        except (httpx2.HTTPError, OSError):
            return False
        except Exception:
            log.exception("kubelet.report_failed", pod=run.key)
            return False
        return True
