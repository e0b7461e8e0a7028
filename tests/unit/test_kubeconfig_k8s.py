"""Narrowing a kubeconfig to the one context a Kubernetes cloud uses: every way it can be
wrong is refused with the part named, and the result holds nothing else."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runecraft import errors
from runecraft.schemas.kubeconfig import auth_type, narrow_kubeconfig
from tests._kubeconfigs import CA, CERT, KEY, kubeconfig


def test_k8s_narrowing_keeps_only_the_current_context_with_its_cluster_and_user() -> None:
    narrowed = narrow_kubeconfig(kubeconfig())
    assert (narrowed.context, narrowed.cluster, narrowed.server) == (
        "dev",
        "dev-cluster",
        "https://10.0.0.1:6443",
    )
    assert narrowed.config == {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "dev",
        "contexts": [{"name": "dev", "context": {"cluster": "dev-cluster", "user": "dev-user"}}],
        "clusters": [
            {
                "name": "dev-cluster",
                "cluster": {"server": "https://10.0.0.1:6443", "certificate-authority-data": CA},
            }
        ],
        "users": [{"name": "dev-user", "user": {"token": "dev-secret-token"}}],
    }


def test_k8s_a_named_context_becomes_the_current_one() -> None:
    narrowed = narrow_kubeconfig(kubeconfig(), "prod")
    assert narrowed.config["current-context"] == "prod"
    assert [u["name"] for u in narrowed.config["users"]] == ["prod-user"]
    assert narrowed.server == "https://10.9.9.9:6443"


def _cluster(doc: dict[str, Any]) -> dict[str, Any]:
    cluster: dict[str, Any] = doc["clusters"][0]["cluster"]
    return cluster


def _set(doc: dict[str, Any], key: str, value: Any) -> None:
    doc[key] = value


def dev_user(**fields: Any) -> Callable[[dict[str, Any]], None]:
    """A change making the `dev` context's user exactly `fields`."""
    return lambda doc: doc["users"][0].update(user=fields)


def dev_cluster(**fields: Any) -> Callable[[dict[str, Any]], None]:
    """A change making the `dev` context's cluster exactly `fields`."""
    return lambda doc: doc["clusters"][0].update(cluster=fields)


BAD: list[tuple[str, Callable[[dict[str, Any]], object], str | None, str]] = [
    ("unknown context", lambda d: None, "staging", r'context "staging" not found.*dev, prod'),
    ("no current context", lambda d: d.pop("current-context"), None, r"no current-context.*dev"),
    (
        "context without a cluster",
        lambda d: d["contexts"][0]["context"].pop("cluster"),
        None,
        r'context "dev" names no cluster',
    ),
    (
        "context naming a missing cluster",
        lambda d: d["clusters"].pop(0),
        None,
        r'context "dev" names cluster "dev-cluster", which the kubeconfig does not define',
    ),
    (
        "context naming a missing user",
        lambda d: d["users"].pop(0),
        None,
        r'context "dev" names user "dev-user", which the kubeconfig does not define',
    ),
    (
        "cluster without server",
        lambda d: _cluster(d).pop("server"),
        None,
        r'"dev-cluster" has no server',
    ),
    (
        "server not a URL",
        lambda d: _cluster(d).update(server="10.0.0.1:6443"),
        None,
        r'cluster "dev-cluster": server "10.0.0.1:6443" is not an http\(s\) URL',
    ),
    (
        "certificate authority as a file",
        dev_cluster(**{"server": "https://10.0.0.1:6443", "certificate-authority": "/x/ca.crt"}),
        None,
        r'cluster "dev-cluster": certificate-authority names a file \("/x/ca.crt"\)',
    ),
    (
        "certificate authority not base64",
        lambda d: _cluster(d).update({"certificate-authority-data": "not base64!"}),
        None,
        r'cluster "dev-cluster": certificate-authority-data is not base64',
    ),
    (
        "user without credential",
        dev_user(),
        None,
        r'user "dev-user" has no credential',
    ),
    (
        "auth-provider only",
        dev_user(**{"auth-provider": {"name": "gcp"}}),
        None,
        r'user "dev-user" has no credential \(auth-provider is not supported\)',
    ),
    (
        "token file",
        dev_user(tokenFile="/x/token"),
        None,
        r'user "dev-user": tokenFile names a file',
    ),
    (
        "certificate without key",
        lambda d: d["users"][1]["user"].pop("client-key-data"),
        "prod",
        r'user "prod-user": a client certificate needs its key',
    ),
    (
        "exec of an unsupported version",
        dev_user(exec={"apiVersion": "client.authentication.k8s.io/v1", "command": "x"}),
        None,
        r'user "dev-user": exec apiVersion "client.authentication.k8s.io/v1" is not supported',
    ),
    (
        "exec without command",
        dev_user(exec={"apiVersion": "client.authentication.k8s.io/v1beta1"}),
        None,
        r'user "dev-user": exec has no command',
    ),
    (
        "contexts not a list",
        lambda d: _set(d, "contexts", {"dev": {}}),
        None,
        r"contexts must be a list",
    ),
    (
        "entry without a name",
        lambda d: d["users"].append({"user": {}}),
        None,
        r"every entry of users needs a name",
    ),
]


@pytest.mark.parametrize(
    ("change", "context", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_k8s_a_bad_kubeconfig_is_refused_naming_the_part(
    change: Callable[[dict[str, Any]], object], context: str | None, message: str
) -> None:
    doc = kubeconfig()
    change(doc)
    with pytest.raises(errors.InvalidSpecError, match=message):
        narrow_kubeconfig(doc, context)


@pytest.mark.parametrize("document", [None, "apiVersion: v1", ["a"]])
def test_k8s_a_kubeconfig_that_is_not_a_mapping_is_refused(document: object) -> None:
    with pytest.raises(errors.InvalidSpecError, match="kubeconfig must be a mapping"):
        narrow_kubeconfig(document)


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ({"token": "t"}, "oauth2"),
        ({"client-certificate-data": CERT, "client-key-data": KEY}, "clientcertificate"),
        ({"username": "u", "password": "p"}, "userpass"),
        ({"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "c"}}, "exec"),
        ({"username": "u"}, None),
        ({}, None),
    ],
)
def test_k8s_auth_type_names_the_credential_kind(
    user: dict[str, Any], expected: str | None
) -> None:
    assert auth_type(user) == expected


def test_k8s_files_the_chosen_context_names_are_embedded_relative_to_the_kubeconfig(
    tmp_path: Path,
) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.crt").write_bytes(b"CA PEM")
    (tmp_path / "me.crt").write_bytes(b"CERT PEM")
    (tmp_path / "me.key").write_bytes(b"KEY PEM")
    doc = kubeconfig()
    doc["clusters"][1]["cluster"]["certificate-authority"] = "certs/ca.crt"
    doc["users"][1]["user"] = {
        "client-certificate": "me.crt",
        "client-key": str(tmp_path / "me.key"),
    }
    doc["users"][0]["user"] = {"tokenFile": "elsewhere/missing"}  # not the chosen context's
    narrowed = narrow_kubeconfig(doc, "prod", files=tmp_path)
    assert narrowed.config["clusters"][0]["cluster"] == {
        "server": "https://10.9.9.9:6443",
        "certificate-authority-data": base64.b64encode(b"CA PEM").decode(),
    }
    assert narrowed.config["users"][0]["user"] == {
        "client-certificate-data": base64.b64encode(b"CERT PEM").decode(),
        "client-key-data": base64.b64encode(b"KEY PEM").decode(),
    }


def test_k8s_a_token_file_is_embedded_as_the_token(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("s3cret\n")
    doc = kubeconfig()
    doc["users"][0]["user"] = {"tokenFile": "token"}
    narrowed = narrow_kubeconfig(doc, files=tmp_path)
    assert narrowed.config["users"][0]["user"] == {"token": "s3cret"}


def test_k8s_a_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    doc = kubeconfig()
    doc["users"][0]["user"] = {"tokenFile": "missing-token"}
    with pytest.raises(errors.InvalidSpecError, match=r'cannot read tokenFile ".*missing-token"'):
        narrow_kubeconfig(doc, files=tmp_path)
