"""pytest fixtures for Kubernetes tests: the emulated cluster, or the real one `KUBECONFIG`
names (then tests that need the kubelet or faults skip, saying why)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.k8s_cluster.cluster import KubeCluster, ThreadedKubeCluster


def real_kubeconfig() -> Path | None:
    """The kubeconfig of a real cluster to test against, when KUBECONFIG names one."""
    value = os.environ.get("KUBECONFIG", "")
    return Path(value.split(os.pathsep)[0]) if value else None


@pytest.fixture
def k8s_cluster(tmp_path: Path) -> Iterator[ThreadedKubeCluster]:
    """The cluster on a background event loop, for synchronous tests; `.run(coro)` runs a
    coroutine there. Pod output is printed when the test fails."""
    real = real_kubeconfig()
    if real is not None:
        with ThreadedKubeCluster.connect(real) as cluster:
            yield cluster
        return
    with ThreadedKubeCluster.start(tmp_path / "k8s") as cluster:
        try:
            yield cluster
        finally:
            _print_logs(cluster.pod_logs())


@pytest.fixture
async def k8s_cluster_async(tmp_path: Path) -> AsyncIterator[KubeCluster]:
    """The cluster on the test's own event loop, for async tests."""
    real = real_kubeconfig()
    if real is not None:
        async with KubeCluster.connect(real) as cluster:
            yield cluster
        return
    async with KubeCluster.start(tmp_path / "k8s") as cluster:
        try:
            yield cluster
        finally:
            _print_logs(cluster.pod_logs())


def _print_logs(logs: str) -> None:
    # Captured by pytest and shown only for a failing test.
    if logs:
        print("--- pod logs of the test cluster ---")
        print(logs)
