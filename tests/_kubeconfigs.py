"""Kubeconfig documents for tests of Kubernetes clouds: no cluster behind them (adding a
cloud never reaches it)."""

from __future__ import annotations

import base64
import copy
from typing import Any

__all__ = ["CA", "CERT", "KEY", "kubeconfig"]

CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n").decode()
CERT = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nme\n-----END CERTIFICATE-----\n").decode()
KEY = base64.b64encode(b"-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n").decode()

_BASE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Config",
    "current-context": "dev",
    "preferences": {},
    "contexts": [
        {"name": "dev", "context": {"cluster": "dev-cluster", "user": "dev-user"}},
        {"name": "prod", "context": {"cluster": "prod-cluster", "user": "prod-user"}},
    ],
    "clusters": [
        {
            "name": "dev-cluster",
            "cluster": {"server": "https://10.0.0.1:6443", "certificate-authority-data": CA},
        },
        {"name": "prod-cluster", "cluster": {"server": "https://10.9.9.9:6443"}},
    ],
    "users": [
        {"name": "dev-user", "user": {"token": "dev-secret-token"}},
        {
            "name": "prod-user",
            "user": {"client-certificate-data": CERT, "client-key-data": KEY},
        },
    ],
}


def kubeconfig() -> dict[str, Any]:
    """A kubeconfig with two contexts: `dev` (current; a token) and `prod` (a client
    certificate). Each call returns a fresh copy to change."""
    return copy.deepcopy(_BASE)
