"""A kubeconfig narrowed to the one context a Kubernetes cloud uses, and checked for what
the controller's client library (lightkube) can use: the client (`rune add-k8s`) and the
controller both check it, so a bad kubeconfig is refused before anything is stored.

The narrowed kubeconfig is self-contained: every file it named (certificate authority,
client certificate and key, token file) is embedded, so the controller never depends on
the client's files.
"""

from __future__ import annotations

import base64
import binascii
import copy
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runecraft import errors

__all__ = [
    "EXEC_API_VERSIONS",
    "NarrowedKubeconfig",
    "auth_type",
    "credential_user",
    "decoded",
    "juju_credential",
    "narrow_kubeconfig",
    "narrowed_parts",
    "narrowed_user",
    "with_cluster",
    "with_credential",
]

EXEC_API_VERSIONS = (
    "client.authentication.k8s.io/v1alpha1",
    "client.authentication.k8s.io/v1beta1",
)
"""The exec credential plugin versions lightkube runs."""

_CREDENTIALS = (
    "a token, a client certificate and key, a username and password, "
    f"or an exec plugin ({', '.join(EXEC_API_VERSIONS)})"
)

_FILE_FIELDS = {
    "certificate-authority": "certificate-authority-data",
    "client-certificate": "client-certificate-data",
    "client-key": "client-key-data",
}
"""Fields that name a file, and the field that holds the file's content (base64)."""


@dataclass(frozen=True)
class NarrowedKubeconfig:
    """A kubeconfig with one context (its `current-context`), its cluster and its user."""

    config: dict[str, Any]
    context: str
    cluster: str
    server: str
    """The cluster's API server: the cloud's endpoint."""


def _entries(kubeconfig: Mapping[str, Any], kind: str, body: str) -> dict[str, dict[str, Any]]:
    """`clusters`/`contexts`/`users` by name, each entry's `body` mapping."""
    listed = kubeconfig.get(kind) or []
    if not isinstance(listed, list):
        raise errors.InvalidSpecError(f"kubeconfig: {kind} must be a list")
    found: dict[str, dict[str, Any]] = {}
    for entry in listed:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise errors.InvalidSpecError(f"kubeconfig: every entry of {kind} needs a name")
        content = entry.get(body) or {}
        if not isinstance(content, Mapping):
            raise errors.InvalidSpecError(
                f'kubeconfig: {body} "{entry["name"]}" must be a mapping, got {content!r}'
            )
        found[entry["name"]] = dict(content)
    return found


def _choose_context(
    kubeconfig: Mapping[str, Any], contexts: Mapping[str, Any], given: str | None
) -> str:
    known = ", ".join(sorted(contexts)) or "none"
    name = given or kubeconfig.get("current-context")
    if not name:
        raise errors.InvalidSpecError(
            f"kubeconfig has no current-context: name a context (known contexts: {known})"
        )
    if name not in contexts:
        raise errors.InvalidSpecError(
            f'context "{name}" not found in the kubeconfig (known contexts: {known})'
        )
    return str(name)


def _named(context: str, fields: Mapping[str, Any], what: str, defined: Mapping[str, Any]) -> str:
    name = fields.get(what)
    if not name:
        raise errors.InvalidSpecError(f'context "{context}" names no {what}')
    if name not in defined:
        raise errors.InvalidSpecError(
            f'context "{context}" names {what} "{name}", which the kubeconfig does not define'
        )
    return str(name)


def _check_base64(owner: str, fields: Mapping[str, Any]) -> None:
    for field in _FILE_FIELDS.values():
        if field in fields:
            try:
                base64.b64decode(str(fields[field]), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise errors.InvalidSpecError(f"{owner}: {field} is not base64") from exc


def _check_no_files(owner: str, fields: Mapping[str, Any]) -> None:
    """The controller never reads the client's files: they must come embedded."""
    for field, embedded in (*_FILE_FIELDS.items(), ("tokenFile", "token")):
        if fields.get(field) and not fields.get(embedded):
            raise errors.InvalidSpecError(
                f'{owner}: {field} names a file ("{fields[field]}"): give its content as '
                f"{embedded} (`rune add-k8s` embeds it)"
            )


def _check_cluster(name: str, cluster: Mapping[str, Any]) -> str:
    owner = f'cluster "{name}"'
    server = cluster.get("server")
    if not server:
        raise errors.InvalidSpecError(f"{owner} has no server")
    if not isinstance(server, str) or not server.startswith(("https://", "http://")):
        raise errors.InvalidSpecError(f'{owner}: server "{server}" is not an http(s) URL')
    _check_no_files(owner, cluster)
    _check_base64(owner, cluster)
    return server


def auth_type(user: Mapping[str, Any]) -> str | None:
    """Juju's auth type of a kubeconfig user's credential (None: none lightkube uses)."""
    if user.get("client-certificate-data") and user.get("client-key-data"):
        return "clientcertificate"
    if user.get("token"):
        return "oauth2"
    if user.get("username") and user.get("password"):
        return "userpass"
    if isinstance(user.get("exec"), Mapping):
        return "exec"
    return None


def decoded(data: str) -> str:
    """Base64 `*-data` as text; text that is not base64 as it is."""
    try:
        return base64.b64decode(data, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return data


def juju_credential(user: Mapping[str, Any]) -> dict[str, Any]:
    """Juju's credential (`{auth-type, attrs}`, as `credential-get` and `credentials`
    show it) of a kubeconfig user; an exec plugin's is made where it runs: `empty`."""
    kind = auth_type(user)
    if kind == "clientcertificate":
        attrs = {
            "ClientCertificateData": decoded(user["client-certificate-data"]),
            "ClientKeyData": decoded(user["client-key-data"]),
        }
    elif kind == "oauth2":
        attrs = {"Token": user["token"]}
    elif kind == "userpass":
        attrs = {"username": user["username"], "password": user["password"]}
    else:
        return {"auth-type": "empty", "attrs": {}}
    return {"auth-type": kind, "attrs": attrs}


_CREDENTIAL_ATTRIBUTES = {
    "oauth2": ("Token",),
    "clientcertificate": ("ClientCertificateData", "ClientKeyData"),
    "userpass": ("username", "password"),
}


def credential_user(kind: Any, attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The kubeconfig user of a Juju credential (`add-credential`'s `auth-type` and
    attributes, as `juju_credential` shows them); what is missing or unknown is named."""
    needed = _CREDENTIAL_ATTRIBUTES.get(str(kind))
    if needed is None:
        raise errors.InvalidSpecError(
            f'auth-type "{kind}" is not supported for a Kubernetes cloud '
            f"(supported: {', '.join(sorted(_CREDENTIAL_ATTRIBUTES))})"
        )
    missing = [name for name in needed if not isinstance(attrs.get(name), str) or not attrs[name]]
    if missing:
        raise errors.InvalidSpecError(
            f'a credential of auth-type "{kind}" needs {", ".join(missing)} (as text)'
        )
    unknown = sorted(set(attrs) - set(needed))
    if unknown:
        raise errors.InvalidSpecError(f'unknown credential attribute "{unknown[0]}" for "{kind}"')
    if kind == "oauth2":
        return {"token": attrs["Token"]}
    if kind == "userpass":
        return {"username": attrs["username"], "password": attrs["password"]}
    return {
        "client-certificate-data": base64.b64encode(
            attrs["ClientCertificateData"].encode()
        ).decode(),
        "client-key-data": base64.b64encode(attrs["ClientKeyData"].encode()).decode(),
    }


def _check_exec(owner: str, plugin: Mapping[str, Any]) -> None:
    if plugin.get("apiVersion") not in EXEC_API_VERSIONS:
        raise errors.InvalidSpecError(
            f'{owner}: exec apiVersion "{plugin.get("apiVersion")}" is not supported '
            f"(supported: {', '.join(EXEC_API_VERSIONS)})"
        )
    if not plugin.get("command"):
        raise errors.InvalidSpecError(f"{owner}: exec has no command")


def _check_user(name: str, user: Mapping[str, Any]) -> None:
    owner = f'user "{name}"'
    _check_no_files(owner, user)
    _check_base64(owner, user)
    if bool(user.get("client-certificate-data")) != bool(user.get("client-key-data")):
        raise errors.InvalidSpecError(
            f"{owner}: a client certificate needs its key (client-certificate-data and "
            "client-key-data go together)"
        )
    if isinstance(user.get("exec"), Mapping):
        _check_exec(owner, user["exec"])
    if auth_type(user) is None:
        other = " (auth-provider is not supported)" if user.get("auth-provider") else ""
        raise errors.InvalidSpecError(f"{owner} has no credential{other}: give {_CREDENTIALS}")


def _embedded(
    fields: Mapping[str, Any], base: Path, read: Callable[[Path], bytes]
) -> dict[str, Any]:
    """`fields` with each file they name read (relative to `base`, as kubectl does) and
    embedded as its `-data` field (a `tokenFile` as `token`)."""
    result = dict(fields)
    for field, embedded in (*_FILE_FIELDS.items(), ("tokenFile", "token")):
        path = result.pop(field, None)
        if not path or result.get(embedded):
            continue
        full = base / os.path.expanduser(str(path))
        try:
            data = read(full)
        except OSError as exc:
            raise errors.InvalidSpecError(
                f'kubeconfig: cannot read {field} "{full}": {exc.strerror or exc}'
            ) from exc
        result[embedded] = (
            data.decode().strip() if field == "tokenFile" else base64.b64encode(data).decode()
        )
    return result


def narrow_kubeconfig(
    kubeconfig: Any,
    context: str | None = None,
    *,
    files: Path | None = None,
    read: Callable[[Path], bytes] = Path.read_bytes,
) -> NarrowedKubeconfig:
    """The kubeconfig reduced to `context` (default: its current-context), checked: the
    context, its cluster (with a server) and its user (with a credential lightkube uses)
    exist. With `files` (the kubeconfig's directory, on the client), the files the cluster
    and user name are embedded; without, a file reference is refused."""
    if not isinstance(kubeconfig, Mapping):
        raise errors.InvalidSpecError("kubeconfig must be a mapping (a kubeconfig document)")
    contexts = _entries(kubeconfig, "contexts", "context")
    clusters = _entries(kubeconfig, "clusters", "cluster")
    users = _entries(kubeconfig, "users", "user")
    name = _choose_context(kubeconfig, contexts, context)
    fields = contexts[name]
    cluster_name = _named(name, fields, "cluster", clusters)
    user_name = _named(name, fields, "user", users)
    cluster, user = clusters[cluster_name], users[user_name]
    if files is not None:
        cluster, user = _embedded(cluster, files, read), _embedded(user, files, read)
    server = _check_cluster(cluster_name, cluster)
    _check_user(user_name, user)
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": name,
        "contexts": [{"name": name, "context": fields}],
        "clusters": [{"name": cluster_name, "cluster": cluster}],
        "users": [{"name": user_name, "user": user}],
    }
    return NarrowedKubeconfig(config=config, context=name, cluster=cluster_name, server=server)


def narrowed_parts(config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The cluster and the user of a kubeconfig `narrow_kubeconfig` made (it has one of
    each), as stored with a cloud."""
    clusters = config.get("clusters") or [{}]
    users = config.get("users") or [{}]
    return dict(clusters[0].get("cluster") or {}), dict(users[0].get("user") or {})


def narrowed_user(config: Mapping[str, Any]) -> str:
    """The name of the user of a kubeconfig `narrow_kubeconfig` made: the name of the
    cloud's credential."""
    users = config.get("users") or [{}]
    return str(users[0].get("name") or "")


def with_credential(
    config: Mapping[str, Any], name: str, user: Mapping[str, Any]
) -> dict[str, Any]:
    """A narrowed kubeconfig whose user is the credential `name` (`user`, a kubeconfig
    user with a credential lightkube uses), checked as `narrow_kubeconfig` checks it."""
    changed = copy.deepcopy(dict(config))
    changed["users"] = [{"name": name, "user": dict(user)}]
    changed["contexts"][0]["context"]["user"] = name
    return narrow_kubeconfig(changed).config


def with_cluster(
    config: Mapping[str, Any], server: str, authorities: Sequence[str] = ()
) -> dict[str, Any]:
    """A narrowed kubeconfig whose cluster is at `server`, its certificate checked against
    the first of `authorities` (PEM; none: the system's); the user stays."""
    changed = copy.deepcopy(dict(config))
    cluster: dict[str, Any] = {"server": server}
    if authorities:
        cluster["certificate-authority-data"] = base64.b64encode(authorities[0].encode()).decode()
    changed["clusters"][0]["cluster"] = cluster
    return narrow_kubeconfig(changed).config
