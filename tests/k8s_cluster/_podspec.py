"""What a kubelet works out from a pod spec before it starts a container, as pure functions:
the environment (`env`, `envFrom`, `valueFrom`), `$(VAR)` expansion, volume contents.

There are no mount namespaces here: a volume is a host directory, and every argument, env
value and workingDir that starts with a volumeMount's mountPath is rewritten to that
directory. That rewriting is the one liberty the test kubelet takes.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

JSON = dict[str, Any]
Objects = Mapping[tuple[str, str], JSON]  # ("Secret" | "ConfigMap", name) -> object

_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


class ConfigError(Exception):
    """A container cannot start: what it references is missing (CreateContainerConfigError)."""


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubelet's `$(VAR)` expansion: defined variables are replaced, `$$` is a literal `$`,
    undefined references stay as written."""

    def replace(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        return env.get(match[1], match[0])

    return _REFERENCE.sub(replace, text)


def references(pod: JSON) -> set[tuple[str, str]]:
    """The Secrets and ConfigMaps the pod's env and volumes name."""
    found: set[tuple[str, str]] = set()
    spec = pod.get("spec", {})
    for container in [*(spec.get("initContainers") or []), *spec.get("containers", [])]:
        for source in container.get("envFrom") or []:
            if "secretRef" in source:
                found.add(("Secret", source["secretRef"]["name"]))
            if "configMapRef" in source:
                found.add(("ConfigMap", source["configMapRef"]["name"]))
        for var in container.get("env") or []:
            value_from = var.get("valueFrom") or {}
            if "secretKeyRef" in value_from:
                found.add(("Secret", value_from["secretKeyRef"]["name"]))
            if "configMapKeyRef" in value_from:
                found.add(("ConfigMap", value_from["configMapKeyRef"]["name"]))
    for volume in spec.get("volumes") or []:
        if "secret" in volume:
            found.add(("Secret", volume["secret"]["secretName"]))
        if "configMap" in volume:
            found.add(("ConfigMap", volume["configMap"]["name"]))
    return found


def object_data(kind: str, obj: JSON) -> dict[str, bytes]:
    """A Secret's or ConfigMap's keys with their decoded contents."""
    if kind == "Secret":
        return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    data = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
    data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    return data


def _lookup(objects: Objects, kind: str, ref: JSON, key: str | None) -> bytes | None:
    obj = objects.get((kind, ref.get("name", "")))
    if obj is None:
        if ref.get("optional"):
            return None
        raise ConfigError(f'{kind.lower()} "{ref.get("name")}" not found')
    data = object_data(kind, obj)
    if key is not None and key not in data:
        if ref.get("optional"):
            return None
        raise ConfigError(f"couldn't find key {key} in {kind} {ref.get('name')}")
    return data.get(key or "", b"")


_FIELDS = {
    "metadata.name": lambda pod: pod["metadata"].get("name"),
    "metadata.namespace": lambda pod: pod["metadata"].get("namespace"),
    "metadata.uid": lambda pod: pod["metadata"].get("uid"),
    "spec.nodeName": lambda pod: pod["spec"].get("nodeName"),
    "spec.serviceAccountName": lambda pod: pod["spec"].get("serviceAccountName"),
    "status.podIP": lambda pod: pod.get("status", {}).get("podIP"),
    "status.hostIP": lambda pod: pod.get("status", {}).get("hostIP"),
}


def _field(pod: JSON, path: str) -> str:
    match = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if match:
        return str((pod["metadata"].get(match[1]) or {}).get(match[2], ""))
    if path not in _FIELDS:
        raise ConfigError(f"unsupported fieldRef {path!r}")
    return str(_FIELDS[path](pod) or "")


def _env_from(container: JSON, objects: Objects) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for kind, field in (("Secret", "secretRef"), ("ConfigMap", "configMapRef")):
            if field not in source:
                continue
            ref = source[field]
            obj = objects.get((kind, ref.get("name", "")))
            if obj is None and not ref.get("optional"):
                raise ConfigError(f'{kind.lower()} "{ref.get("name")}" not found')
            for key, value in object_data(kind, obj or {}).items():
                env[prefix + key] = value.decode(errors="replace")
    return env


def _value(var: JSON, pod: JSON, objects: Objects, env: Mapping[str, str]) -> str | None:
    if "value" in var:
        return expand(str(var["value"]), env)
    source = var.get("valueFrom") or {}
    if "fieldRef" in source:
        return _field(pod, source["fieldRef"]["fieldPath"])
    for kind, field in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
        if field in source:
            found = _lookup(objects, kind, source[field], source[field].get("key"))
            return None if found is None else found.decode(errors="replace")
    if source:
        raise ConfigError(f"unsupported valueFrom for {var.get('name')}: {sorted(source)}")
    return ""


def container_env(container: JSON, pod: JSON, objects: Objects) -> dict[str, str]:
    """The container's environment as kubelet resolves it: envFrom first, then env in
    order (each value may use `$(VAR)` of the ones before it)."""
    env = _env_from(container, objects)
    for var in container.get("env") or []:
        value = _value(var, pod, objects, env)
        if value is not None:
            env[var["name"]] = value
    return env


def volume_files(volume: JSON, objects: Objects) -> dict[str, tuple[bytes, int]] | None:
    """The files of a secret or configMap volume (path -> (content, mode)); None for a
    volume that is just a directory (emptyDir and the others)."""
    for kind, field, name_key in (
        ("Secret", "secret", "secretName"),
        ("ConfigMap", "configMap", "name"),
    ):
        if field not in volume:
            continue
        source = volume[field]
        obj = objects.get((kind, source.get(name_key, "")))
        if obj is None:
            if source.get("optional"):
                return {}
            raise ConfigError(f'{kind.lower()} "{source.get(name_key)}" not found')
        data = object_data(kind, obj)
        mode = int(source.get("defaultMode", 0o644))
        items = source.get("items")
        if not items:
            return {key: (value, mode) for key, value in data.items()}
        files: dict[str, tuple[bytes, int]] = {}
        for item in items:
            if item["key"] not in data:
                raise ConfigError(
                    f"couldn't find key {item['key']} in {kind} {obj['metadata']['name']}"
                )
            files[item["path"]] = (data[item["key"]], int(item.get("mode", mode)))
        return files
    return None


def rewrite(value: str, mounts: list[tuple[str, Path]]) -> str:
    """`value` with a leading mountPath replaced by the volume's host directory."""
    for mount_path, host in sorted(mounts, key=lambda m: -len(m[0])):
        root = mount_path.rstrip("/")
        if value == root or value.startswith(root + "/"):
            return str(host) + value[len(root) :]
    return value
