"""The test cluster as tests hold it: the emulated API on a port, a kubeconfig, the kubelet.

`KubeCluster.start(workdir)` serves an `Emulator` with a `Kubelet` and a
`StatefulSetController` working against it through the API; `KubeCluster.connect(path)`
is the same handle on a real cluster (no kubelet, no faults: tests needing them skip).
`ThreadedKubeCluster` runs either on its own event loop in a thread, for tests that drive
programs in subprocesses.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import kmock
import pytest
import yaml
from lightkube import AsyncClient, KubeConfig

from tests.k8s_cluster.emulator import Emulator
from tests.k8s_cluster.faults import Faults
from tests.k8s_cluster.informer import server_of
from tests.k8s_cluster.kubelet import Kubelet
from tests.k8s_cluster.statefulsets import StatefulSetController

T = TypeVar("T")
_REAL = "KUBECONFIG points at a real cluster: this test needs the emulated one"


def write_kubeconfig(path: Path, server: str, namespace: str = "default") -> Path:
    """A kubeconfig with one cluster, one token user and one current context."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "emulated", "cluster": {"server": server}}],
        "users": [{"name": "tester", "user": {"token": "emulated-token"}}],
        "contexts": [
            {
                "name": "emulated",
                "context": {"cluster": "emulated", "user": "tester", "namespace": namespace},
            }
        ],
        "current-context": "emulated",
        "preferences": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    return path


def kubectl_json(kubeconfig: Path, *args: str) -> dict[str, Any]:
    """`kubectl ARGS -o json` with Debian's kubectl on `kubeconfig` (its discovery cache
    beside it, out of HOME); fails the test with kubectl's error."""
    done = subprocess.run(
        [
            str(debian_kubectl()),
            "--kubeconfig",
            str(kubeconfig),
            "--cache-dir",
            str(kubeconfig.parent / "kubectl-cache"),
            *args,
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def debian_kubectl() -> Path:
    """kubectl from Debian's kubernetes-client package: the copy scripts/setup.sh extracts
    into the venv where another package owns /usr/bin/kubectl, else the installed one."""
    extracted = Path(__file__).resolve().parents[2] / ".venv" / "debian" / "usr" / "bin" / "kubectl"
    if extracted.is_file():
        return extracted
    listing = subprocess.run(
        ["dpkg", "-L", "kubernetes-client"], capture_output=True, text=True, check=False
    )
    for line in listing.stdout.splitlines():
        if line.endswith("/bin/kubectl") and Path(line).is_file():
            return Path(line)
    found = shutil.which("kubectl")
    raise FileNotFoundError(
        "kubectl from Debian's kubernetes-client is missing: run scripts/setup.sh"
        + (f" ({found} is another kubectl)" if found else "")
    )


def _skip(what: str) -> NoReturn:
    pytest.skip(f"{_REAL} ({what})")


class KubeCluster:
    """A handle on the cluster a test runs against."""

    def __init__(
        self,
        kubeconfig: Path,
        url: str,
        emulator: Emulator | None = None,
        kubelet: Kubelet | None = None,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.url = url
        self._emulator = emulator
        self._kubelet = kubelet
        self._server: kmock.Server | None = None
        self._port = 0
        self._controllers: list[StatefulSetController] = []

    # -- construction ------------------------------------------------------------------------

    @classmethod
    @contextlib.asynccontextmanager
    async def start(
        cls,
        workdir: Path,
        *,
        backoff: float = 0.2,
        history_limit: int = 5000,
        kubelet: bool = True,
    ) -> AsyncIterator[KubeCluster]:
        """Serve an emulated cluster on a free port; pods and StatefulSets run in `workdir`
        (unless `kubelet` is False). Back-off of crash-looping containers starts at `backoff`
        seconds."""
        emulator = Emulator(history_limit=history_limit)
        async with emulator:
            cluster = cls(workdir / "kubeconfig", "", emulator)
            await cluster.start_server()
            write_kubeconfig(cluster.kubeconfig, cluster.url)
            try:
                if kubelet:
                    await cluster._start_nodes(workdir, backoff)
                yield cluster
            finally:
                await cluster._stop_nodes()
                await cluster.stop_server()

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, kubeconfig: Path) -> AsyncIterator[KubeCluster]:
        """A handle on the real cluster this kubeconfig's current context names."""
        yield cls(kubeconfig, server_of(KubeConfig.from_file(kubeconfig)))

    async def _start_nodes(self, workdir: Path, backoff: float) -> None:
        self._kubelet = Kubelet(self.kubeconfig, workdir / "node", backoff=backoff)
        await self._kubelet.start()
        controller = StatefulSetController(self.kubeconfig)
        await controller.start()
        self._controllers.append(controller)

    async def _stop_nodes(self) -> None:
        for controller in self._controllers:
            await controller.stop()
        if self._kubelet is not None:
            await self._kubelet.stop()

    # -- what tests use ----------------------------------------------------------------------

    @property
    def emulated(self) -> bool:
        return self._emulator is not None

    @property
    def emulator(self) -> Emulator:
        return self._emulator if self._emulator is not None else _skip("emulator")

    @property
    def faults(self) -> Faults:
        return self.emulator.faults if self._emulator is not None else _skip("faults")

    @property
    def kubelet(self) -> Kubelet:
        return self._kubelet if self._kubelet is not None else _skip("kubelet")

    def client(self, namespace: str | None = None) -> AsyncClient:
        """A lightkube client on this cluster (the caller closes it)."""
        config = KubeConfig.from_file(self.kubeconfig)
        return AsyncClient(config=config, namespace=namespace)

    def pod_logs(self) -> str:
        """Every pod's container output so far, for a failing test to print."""
        return self._kubelet.logs() if self._kubelet is not None else ""

    async def stop_server(self) -> None:
        """Take the API away (connections refused) until `start_server`; the port is kept."""
        emulator = self.emulator
        if self._server is None:
            return
        emulator.close_watches()
        server, self._server = self._server, None
        await server.__aexit__(None, None, None)

    async def start_server(self) -> None:
        """Serve the API (again) on the same port as before."""
        emulator = self.emulator
        if self._server is not None:
            return
        server = kmock.Server(emulator, port=self._port or None)
        await server.__aenter__()
        self._server, self._port = server, server.port
        self.url = f"http://127.0.0.1:{self._port}"


class ThreadedKubeCluster:
    """A `KubeCluster` on its own event loop in a background thread, for synchronous tests
    (those that drive programs in subprocesses). `run` runs a coroutine on that loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, cluster: KubeCluster) -> None:
        self.loop = loop
        self.cluster = cluster

    @classmethod
    @contextlib.contextmanager
    def start(cls, workdir: Path, **options: Any) -> Iterator[ThreadedKubeCluster]:
        """`KubeCluster.start(workdir, **options)` on a background loop."""
        with cls._hosting(lambda: KubeCluster.start(workdir, **options)) as threaded:
            yield threaded

    @classmethod
    @contextlib.contextmanager
    def connect(cls, kubeconfig: Path) -> Iterator[ThreadedKubeCluster]:
        with cls._hosting(lambda: KubeCluster.connect(kubeconfig)) as threaded:
            yield threaded

    @classmethod
    @contextlib.contextmanager
    def _hosting(cls, opener: Any) -> Iterator[ThreadedKubeCluster]:
        loop = asyncio.new_event_loop()
        ready: Future[KubeCluster] = Future()
        done = threading.Event()
        stop: list[asyncio.Event] = []

        async def host() -> None:
            stop.append(asyncio.Event())
            try:
                async with opener() as cluster:
                    ready.set_result(cluster)
                    await stop[0].wait()
            except BaseException as exc:
                if not ready.done():
                    ready.set_exception(exc)
                raise

        failed: list[BaseException] = []

        def main() -> None:
            try:
                loop.run_until_complete(host())
            except BaseException as exc:  # raised through `ready`, or below at exit
                failed.append(exc)
            finally:
                loop.close()
                done.set()

        thread = threading.Thread(target=main, name="k8s-cluster", daemon=True)
        thread.start()
        cluster = ready.result(timeout=60)
        try:
            yield cls(loop, cluster)
        finally:
            loop.call_soon_threadsafe(stop[0].set)
            done.wait(timeout=60)
            thread.join(timeout=5)
        if failed:  # the cluster broke while the test used it, or as it stopped
            raise RuntimeError("the test cluster failed") from failed[0]

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run a coroutine on the cluster's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @property
    def url(self) -> str:
        return self.cluster.url

    @property
    def kubeconfig(self) -> Path:
        return self.cluster.kubeconfig

    @property
    def emulated(self) -> bool:
        return self.cluster.emulated

    @property
    def emulator(self) -> Emulator:
        return self.cluster.emulator

    @property
    def faults(self) -> Faults:
        return self.cluster.faults

    @property
    def kubelet(self) -> Kubelet:
        return self.cluster.kubelet

    def pod_logs(self) -> str:
        return self.cluster.pod_logs()

    def stop_server(self) -> None:
        self.run(self.cluster.stop_server())

    def start_server(self) -> None:
        self.run(self.cluster.start_server())
