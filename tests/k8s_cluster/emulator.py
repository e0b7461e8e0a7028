"""A Kubernetes API emulator close enough to kube-apiserver for a controller to rely on.

kmock's `KubernetesEmulator` merges dicts and little else. This subclass keeps its request
parsing, discovery and reaction DSL, and serves the declared resources from its own store
(`_store.Store`): uid, creationTimestamp, one global resourceVersion carried in watch events,
generation, label and field selectors, watches resumed from a bounded history (410 Expired
past it), namespace and owner cascades, the status and scale subresources, pod binding, and
real `kind: Status` errors. `faults` answers chosen requests with an error before all that.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import random
import re
import string
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp.web
import attrs
import kmock
import yaml
from kmock._internal.rendering import Response, StreamingError

from tests.k8s_cluster import _patch
from tests.k8s_cluster._requests import parse_request
from tests.k8s_cluster._resources import (
    CONFIG_MAPS,
    NAMESPACES,
    PODS,
    SECRETS,
    SERVED,
    SERVICE_ACCOUNTS,
    SERVICES,
    STATEFUL_SETS,
    VERBS,
    ResourceType,
    api_group,
    api_groups,
    find,
    resource_list,
)
from tests.k8s_cluster._selectors import SelectorError, parse_field_selector, parse_selector
from tests.k8s_cluster._store import JSON, Store, Watcher, conflict, not_found, status_error
from tests.k8s_cluster.faults import Faults

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_SERVICE_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_REQUESTS_KEPT = 2000
_SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public")


def invalid(resource: ResourceType, name: str, message: str) -> kmock.KubernetesError:
    return status_error(
        422,
        "Invalid",
        f'{resource.kind} "{name}" is invalid: {message}',
        name=name,
        kind=resource.kind,
    )


def bad_request(message: str) -> kmock.KubernetesError:
    return status_error(400, "BadRequest", message)


def _check_labels(resource: ResourceType, name: str, labels: Any) -> None:
    for key, value in (labels or {}).items():
        prefix, _, label = key.rpartition("/")
        if not _LABEL_NAME.match(label) or (prefix and not _SUBDOMAIN.match(prefix)):
            raise invalid(resource, name, f"metadata.labels: Invalid value: {key!r}")
        if not isinstance(value, str) or not _LABEL_VALUE.match(value):
            raise invalid(resource, name, f"metadata.labels: Invalid value: {value!r}")


def validate(resource: ResourceType, obj: JSON) -> None:
    """The checks of the API server that catch real client bugs: names and labels."""
    meta = obj.get("metadata", {})
    name = meta.get("name", "")
    pattern = {NAMESPACES: _DNS_LABEL, SERVICES: _SERVICE_NAME, PODS: _SUBDOMAIN}.get(
        resource, _SUBDOMAIN
    )
    if resource.group == "rbac.authorization.k8s.io":
        pattern = re.compile(r"^[^/%]+$")
    if not pattern.match(name):
        raise invalid(resource, name, f"metadata.name: Invalid value: {name!r}")
    _check_labels(resource, name, meta.get("labels"))


@dataclass(frozen=True)
class Target:
    """What a request addresses, after the checks every verb shares."""

    resource: ResourceType
    namespace: str
    name: str | None
    subresource: str | None


def _header(request: kmock.Request, name: str) -> str:
    for key, value in request.headers.items():
        if key.lower() == name.lower():
            return value
    return ""


def _body(request: kmock.Request) -> Any:
    if isinstance(request.data, dict | list):
        return request.data
    if request.text.strip():
        try:
            return yaml.safe_load(request.text)
        except yaml.YAMLError as exc:
            raise bad_request(f"the request body is neither JSON nor YAML: {exc}") from exc
    return None


def _resource_version(params: Any) -> int | None:
    text = params.get("resourceVersion") or ""
    if text in ("", "0"):
        return None
    try:
        return int(text)
    except ValueError as exc:
        raise bad_request(f"invalid resourceVersion: {text!r}") from exc


def _generated_name(obj: JSON) -> None:
    meta = obj.setdefault("metadata", {})
    if not meta.get("name") and meta.get("generateName"):
        suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
        meta["name"] = meta["generateName"] + suffix


@attrs.define(kw_only=True)
class Emulator(kmock.KubernetesEmulator):
    """The emulated API server; serve it with `kmock.Server(emulator)`."""

    history_limit: int = 5000
    faults: Faults = attrs.field(factory=Faults)
    store: Store = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.store = Store(self.history_limit)
        for resource in SERVED:
            self.resources[f"{resource.api_version}/{resource.plural}"] = kmock.ResourceInfo(
                kind=resource.kind,
                singular=resource.singular,
                namespaced=resource.namespaced,
                verbs=set(VERBS),
                shortnames=set(resource.short_names),
                subresources=set(resource.subresources),
            )
        # Below the test's own reactions, above kmock's fallbacks.
        (self**-1000)[self._serves] << self._dispatch
        for namespace in _SYSTEM_NAMESPACES:
            self._create_namespace({"metadata": {"name": namespace}})

    def compact(self) -> None:
        """Drop the watch history: a watch from an older resourceVersion then gets 410."""
        self.store.compact()

    def close_watches(self) -> None:
        """End every open watch stream (as an API server going away does)."""
        self.store.close_watches()

    @property
    def resource_version(self) -> int:
        return self.store.rv

    # -- discovery (kmock's names core/v1 "/v1"; clients then find no core resources) -----

    async def _serve_api(self, request: kmock.Request) -> kmock.Payload:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": request.url.host or ""}
            ],
        }

    async def _serve_apis(self, request: kmock.Request) -> kmock.Payload:
        return api_groups()

    async def _serve_group(self, request: kmock.Request) -> kmock.Payload:
        assert request.resource is not None
        found = api_group(request.resource.group or "")
        if found is None:
            raise status_error(404, "NotFound", "the server could not find the requested resource")
        return found

    async def _serve_version(self, request: kmock.Request) -> kmock.Payload:
        assert request.resource is not None
        found = resource_list(request.resource.group or "", request.resource.version or "")
        if found is None:
            raise status_error(404, "NotFound", "the server could not find the requested resource")
        return found

    async def _serve_server_version(self, request: kmock.Request) -> kmock.Payload:
        return {
            "major": "1",
            "minor": "29",
            "gitVersion": "v1.29.0-emulated",
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2024-01-01T00:00:00Z",
            "goVersion": "go1.21.0",
            "compiler": "gc",
            "platform": "linux/amd64",
        }

    # -- HTTP edge -----------------------------------------------------------------------

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        """kmock's entry point, with the request parsed as kube-apiserver reads paths."""
        response: aiohttp.web.StreamResponse | None = None
        try:
            request = await parse_request(raw_request, len(self._requests))
            self._requests.append(request)
            try:
                return await self._handle(request)
            except StreamingError as exc:  # the stream had started: its headers are gone
                response = exc.args[0]
                raise exc.__cause__ or exc from None
        except Exception as exc:
            if response is None or not response.prepared:
                return await self._render_error(exc)
            await self._stream_error(exc, response)
            await response.write_eof()
            return response

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        fault = self.faults.take(request.method.value, request.url.path)
        if fault is not None:
            return _json(fault.status(), fault.code)
        del self._requests[:-_REQUESTS_KEPT]
        # kmock's own emulator would store the object too; only the reactions are wanted.
        response = await kmock.KubernetesScaffold._handle(self, request)
        if not response.prepared and response.content_type == "application/json":
            response.headers["Content-Type"] = "application/json"  # as exact as the real one
        return response

    async def _render_error(self, exc: Exception) -> aiohttp.web.StreamResponse:
        if not isinstance(exc, kmock.KubernetesError):
            exc = status_error(500, "InternalError", f"{type(exc).__name__}: {exc}")
        return _json(
            {**_status_body(exc), "details": exc.details or {}},
            exc.status,
        )

    def _serves(self, request: kmock.Request) -> bool:
        return request.resource is not None and (
            find(request.resource.group, request.resource.version, request.resource.plural)
            is not None
        )

    def _target(self, request: kmock.Request) -> Target:
        assert request.resource is not None
        resource = find(request.resource.group, request.resource.version, request.resource.plural)
        assert resource is not None
        if request.namespace is not None and not resource.namespaced:
            raise status_error(404, "NotFound", "the server could not find the requested resource")
        if resource.namespaced and request.namespace is None and request.name is not None:
            raise status_error(404, "NotFound", "the server could not find the requested resource")
        return Target(resource, request.namespace or "", request.name, request.subresource)

    async def _dispatch(self, request: kmock.Request) -> kmock.Payload:
        target = self._target(request)
        method = request.method.value
        if method == "GET" and request.params.get("watch") in ("true", "1"):
            return self._watch(target, request)
        if target.name is None:
            return self._collection(method, target, request)
        return self._item(method, target, request)

    def _collection(self, method: str, target: Target, request: kmock.Request) -> kmock.Payload:
        if method == "GET":
            return self._list(target, request)
        if method == "POST":
            return Response(status=201, payload=self._create(target, _body(request)))
        if method == "DELETE":
            return self._delete_collection(target, request)
        raise status_error(405, "MethodNotAllowed", f"{method} is not supported here")

    def _item(self, method: str, target: Target, request: kmock.Request) -> kmock.Payload:
        assert target.name is not None
        if target.subresource not in (None, *target.resource.subresources):
            raise status_error(404, "NotFound", "the server could not find the requested resource")
        if method == "GET":
            return self._get(target)
        if method == "POST" and target.subresource == "binding":
            return Response(status=201, payload=self._bind(target, _body(request)))
        if method == "PUT":
            return self._replace(target, _body(request))
        if method == "PATCH":
            return self._patch(target, _header(request, "Content-Type"), _body(request))
        if method == "DELETE":
            return self._delete(target, request)
        raise status_error(405, "MethodNotAllowed", f"{method} is not supported here")

    # -- reads -----------------------------------------------------------------------------

    def _list(self, target: Target, request: kmock.Request) -> JSON:
        items = self._select(target, request)
        return {
            "kind": f"{target.resource.kind}List",
            "apiVersion": target.resource.api_version,
            "metadata": {"resourceVersion": str(self.store.rv)},
            "items": items,
        }

    def _select(self, target: Target, request: kmock.Request) -> list[JSON]:
        labels, fields = self._filters(request)
        namespace = target.namespace if target.resource.namespaced and target.namespace else None
        return self.store.select(target.resource, namespace, labels, fields)

    @staticmethod
    def _filters(request: kmock.Request) -> tuple[Any, Any]:
        try:
            labels = parse_selector(request.params.get("labelSelector"))
            fields = parse_field_selector(request.params.get("fieldSelector"))
        except SelectorError as exc:
            raise bad_request(str(exc)) from exc
        return labels, fields

    def _get(self, target: Target) -> JSON:
        assert target.name is not None
        obj = copy.deepcopy(self.store.get(target.resource, target.namespace, target.name))
        return self._scale_of(obj) if target.subresource == "scale" else obj

    def _watch(self, target: Target, request: kmock.Request) -> kmock.Payload:
        labels, fields = self._filters(request)
        if target.name is not None:
            name = target.name
            by_name = fields
            fields = lambda obj: by_name(obj) and obj.get("metadata", {}).get("name") == name  # noqa: E731
        namespace = target.namespace if target.resource.namespaced and target.namespace else None
        watcher = Watcher(target.resource, namespace, labels, fields)
        timeout = float(request.params.get("timeoutSeconds") or 0) or None
        try:
            self.store.watch(watcher, _resource_version(request.params))
        except kmock.KubernetesError as exc:
            return Response(headers={"Content-Type": "application/json"}, payload=self._gone(exc))
        return Response(
            headers={"Content-Type": "application/json"}, payload=self._stream(watcher, timeout)
        )

    @staticmethod
    async def _gone(exc: kmock.KubernetesError) -> AsyncIterator[Any]:
        yield b""
        yield {"type": "ERROR", "object": _status_body(exc)}

    async def _stream(self, watcher: Watcher, timeout: float | None) -> AsyncIterator[Any]:
        yield b""  # headers now, even before the first event
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        try:
            while True:
                remaining = None if deadline is None else max(deadline - loop.time(), 0)
                try:
                    event = await asyncio.wait_for(watcher.queue.get(), remaining)
                except TimeoutError:
                    return
                if event is None:
                    return
                yield event
        finally:
            self.store.watchers.discard(watcher)

    # -- writes ----------------------------------------------------------------------------

    def _create(self, target: Target, body: Any) -> JSON:
        resource = target.resource
        if not isinstance(body, dict):
            raise bad_request(f"a {resource.kind} must be a JSON object")
        obj = copy.deepcopy(body)
        _generated_name(obj)
        meta = obj["metadata"]
        if resource.namespaced:
            if meta.get("namespace") not in (None, "", target.namespace):
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
            self._check_namespace(target.namespace)
        validate(resource, obj)
        if resource == NAMESPACES:
            return self._create_namespace(obj)
        return self.store.create(resource, target.namespace, obj)

    def _check_namespace(self, namespace: str) -> None:
        found = self.store.objects.get((NAMESPACES, "", namespace))
        if found is None:
            raise not_found(NAMESPACES, namespace)
        if found.get("status", {}).get("phase") == "Terminating":
            raise status_error(
                403,
                "Forbidden",
                f"unable to create new content in namespace {namespace} because it is being "
                "terminated",
            )

    def _create_namespace(self, obj: JSON) -> JSON:
        """A namespace, with the `default` ServiceAccount and `kube-root-ca.crt` ConfigMap
        that a real cluster's controllers put in every namespace."""
        created = self.store.create(NAMESPACES, "", obj)
        name = created["metadata"]["name"]
        self.store.create(SERVICE_ACCOUNTS, name, {"metadata": {"name": "default"}})
        self.store.create(
            CONFIG_MAPS,
            name,
            {"metadata": {"name": "kube-root-ca.crt"}, "data": {"ca.crt": "emulated"}},
        )
        return created

    def _current(self, target: Target) -> JSON:
        assert target.name is not None
        return copy.deepcopy(self.store.get(target.resource, target.namespace, target.name))

    def _store_update(self, target: Target, new: JSON) -> JSON:
        resource = target.resource
        new.setdefault("metadata", {})
        if new["metadata"].get("name") not in (None, target.name):
            raise bad_request("the name of the object does not match the name on the URL")
        new["metadata"]["name"] = target.name
        if resource.namespaced:
            new["metadata"]["namespace"] = target.namespace
        if resource == SECRETS:
            for key, value in (new.pop("stringData", None) or {}).items():
                new.setdefault("data", {})[key] = _b64(value)
        if target.subresource != "status":
            validate(resource, new)
        return self.store.update(resource, new, target.subresource)

    def _replace(self, target: Target, body: Any) -> JSON:
        if not isinstance(body, dict):
            raise bad_request("the body must be a JSON object")
        if target.subresource == "scale":
            return self._scale(target, body)
        return self._store_update(target, copy.deepcopy(body))

    def _patch(self, target: Target, content_type: str, body: Any) -> JSON:
        try:
            current = self._current(target)
        except kmock.KubernetesError:
            if content_type.startswith(_patch.APPLY) and target.subresource is None:
                return self._create(target, body)
            raise
        base = self._scale_of(current) if target.subresource == "scale" else current
        try:
            patched = _patch.apply_patch(content_type, base, body)
        except _patch.PatchError as exc:
            raise status_error(422, "Invalid", str(exc)) from exc
        if target.subresource == "scale":
            return self._scale(target, patched)
        if isinstance(body, dict) and "resourceVersion" not in body.get("metadata", {}):
            patched["metadata"].pop("resourceVersion", None)
        return self._store_update(target, patched)

    def _delete(self, target: Target, request: kmock.Request) -> JSON:
        assert target.name is not None
        options = _body(request) or {}
        current = self._current(target)
        wanted = options.get("preconditions") or {}
        for field in ("uid", "resourceVersion"):
            if wanted.get(field) and wanted[field] != current["metadata"].get(field):
                raise conflict(target.resource, target.name)
        policy = request.params.get("propagationPolicy") or options.get("propagationPolicy")
        orphan = policy == "Orphan" or options.get("orphanDependents") is True
        return self.store.delete(target.resource, target.namespace, target.name, orphan)

    def _delete_collection(self, target: Target, request: kmock.Request) -> JSON:
        deleted = [
            self.store.delete(target.resource, obj["metadata"].get("namespace", ""), name)
            for obj in self._select(target, request)
            if (name := obj["metadata"]["name"])
        ]
        return {
            "kind": f"{target.resource.kind}List",
            "apiVersion": target.resource.api_version,
            "metadata": {"resourceVersion": str(self.store.rv)},
            "items": deleted,
        }

    def _bind(self, target: Target, body: Any) -> JSON:
        node = ((body or {}).get("target") or {}).get("name")
        if not node:
            raise invalid(PODS, target.name or "", "target.name: Required value")
        pod = self._current(target)
        if pod["spec"].get("nodeName"):
            raise status_error(
                409,
                "Conflict",
                f"pod {target.name} is already assigned to node {pod['spec']['nodeName']!r}",
            )
        pod["spec"]["nodeName"] = node
        self.store.update(PODS, pod, None)
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "code": 201,
        }

    # -- the scale subresource ---------------------------------------------------------------

    @staticmethod
    def _scale_of(obj: JSON) -> JSON:
        meta = obj["metadata"]
        selector = obj.get("spec", {}).get("selector", {}).get("matchLabels", {})
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                key: meta[key]
                for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if key in meta
            },
            "spec": {"replicas": obj.get("spec", {}).get("replicas", 0)},
            "status": {
                "replicas": obj.get("status", {}).get("replicas", 0),
                "selector": ",".join(f"{k}={v}" for k, v in sorted(selector.items())),
            },
        }

    def _scale(self, target: Target, scale: JSON) -> JSON:
        if target.resource != STATEFUL_SETS:
            raise status_error(404, "NotFound", "the server could not find the requested resource")
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise invalid(target.resource, target.name or "", "spec.replicas: Invalid value")
        current = self._current(target)
        wanted_rv = scale.get("metadata", {}).get("resourceVersion")
        if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
            raise conflict(target.resource, target.name or "")
        current["spec"]["replicas"] = replicas
        current["metadata"].pop("resourceVersion")
        return self._scale_of(self.store.update(target.resource, current, None))


def _json(body: JSON, code: int) -> aiohttp.web.Response:
    """A JSON answer with the bare `application/json` type clients compare against."""
    return aiohttp.web.Response(
        body=json.dumps(body).encode(), status=code, headers={"Content-Type": "application/json"}
    )


def _b64(value: Any) -> str:
    return base64.b64encode(str(value).encode()).decode()


def _status_body(exc: kmock.KubernetesError) -> dict[str, Any]:
    """A failure as the API server's Status object."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": exc.message,
        "reason": exc.reason,
        "code": exc.status,
    }
