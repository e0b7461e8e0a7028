"""A test-only Kubernetes cluster: an API emulator (on kmock), a kubelet and a StatefulSet
controller working through the API, fault injection, and the fixtures tests use."""

from tests.k8s_cluster.cluster import (
    KubeCluster,
    ThreadedKubeCluster,
    debian_kubectl,
    kubectl_json,
    write_kubeconfig,
)
from tests.k8s_cluster.emulator import Emulator
from tests.k8s_cluster.faults import Fault, Faults
from tests.k8s_cluster.informer import Informer
from tests.k8s_cluster.kubelet import Hold, Kubelet
from tests.k8s_cluster.statefulsets import StatefulSetController
from tests.k8s_cluster.waiting import build, condition, is_ready, wait_for, wait_gone

__all__ = [
    "Emulator",
    "Fault",
    "Faults",
    "Hold",
    "Informer",
    "KubeCluster",
    "Kubelet",
    "StatefulSetController",
    "ThreadedKubeCluster",
    "build",
    "condition",
    "debian_kubectl",
    "is_ready",
    "kubectl_json",
    "wait_for",
    "wait_gone",
    "write_kubeconfig",
]
