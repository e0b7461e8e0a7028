"""The emulated API server's object store: resource versions, watch history, cascades.

Plain in-memory state on one event loop; the HTTP side (`emulator.py`) turns requests into
these calls and `kmock.KubernetesError`s into Status answers.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import kmock

from tests.k8s_cluster import _defaults
from tests.k8s_cluster._resources import NAMESPACES, ResourceType

JSON = dict[str, Any]
Key = tuple[ResourceType, str, str]
ObjectFilter = Callable[[Mapping[str, Any]], bool]


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_error(code: int, reason: str, message: str, **details: Any) -> kmock.KubernetesError:
    """An error the HTTP side answers as a `kind: Status` body."""
    return kmock.KubernetesError(status=code, reason=reason, message=message, details=details)


def not_found(resource: ResourceType, name: str) -> kmock.KubernetesError:
    return status_error(
        404,
        "NotFound",
        f'{resource.plural}{"." + resource.group if resource.group else ""} "{name}" not found',
        name=name,
        group=resource.group,
        kind=resource.plural,
    )


def conflict(resource: ResourceType, name: str) -> kmock.KubernetesError:
    return status_error(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {resource.plural} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again",
        name=name,
        group=resource.group,
        kind=resource.plural,
    )


@dataclass(frozen=True)
class Change:
    """One stored change, kept in the bounded history that watches resume from."""

    rv: int
    resource: ResourceType
    type: str
    obj: JSON
    old: JSON | None = None


@dataclass(eq=False)
class Watcher:
    """One open watch: which objects it sees and the queue its stream reads (None ends it)."""

    resource: ResourceType
    namespace: str | None
    labels: ObjectFilter
    fields: ObjectFilter
    queue: asyncio.Queue[JSON | None] = field(default_factory=asyncio.Queue)

    def sees(self, obj: Mapping[str, Any] | None) -> bool:
        if obj is None:
            return False
        meta = obj.get("metadata", {})
        if self.namespace is not None and meta.get("namespace", "") != self.namespace:
            return False
        return self.labels(meta.get("labels") or {}) and self.fields(obj)

    def offer(self, change: Change) -> None:
        """Queue the event as this watch sees it: an object that moves out of its selector is
        DELETED for it, one that moves in is ADDED, as the API server does."""
        if change.resource != self.resource:
            return
        now_seen, was_seen = self.sees(change.obj), self.sees(change.old)
        kind = change.type
        if kind == "MODIFIED" and now_seen != was_seen:
            kind = "ADDED" if now_seen else "DELETED"
        elif not now_seen:
            return
        self.queue.put_nowait({"type": kind, "object": copy.deepcopy(change.obj)})


def _identity(obj: JSON) -> JSON:
    meta = obj.get("metadata", {})
    return {k: meta[k] for k in ("uid", "creationTimestamp", "name", "namespace") if k in meta}


def _spec_of(obj: JSON) -> JSON:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _without_rv(obj: JSON) -> JSON:
    result = dict(obj)
    result["metadata"] = {
        k: v for k, v in obj.get("metadata", {}).items() if k != "resourceVersion"
    }
    return result


class Store:
    def __init__(self, history_limit: int = 5000) -> None:
        self.objects: dict[Key, JSON] = {}
        self.rv = 0
        self.history: deque[Change] = deque()
        self.history_limit = history_limit
        self.compacted = 0
        self.watchers: set[Watcher] = set()

    # -- reading -------------------------------------------------------------------------

    def get(self, resource: ResourceType, namespace: str, name: str) -> JSON:
        obj = self.objects.get((resource, namespace, name))
        if obj is None:
            raise not_found(resource, name)
        return obj

    def select(
        self,
        resource: ResourceType,
        namespace: str | None,
        labels: ObjectFilter,
        fields: ObjectFilter,
    ) -> list[JSON]:
        probe = Watcher(resource, namespace, labels, fields)
        found = [obj for (res, _, _), obj in self.objects.items() if res == resource]
        return [copy.deepcopy(obj) for obj in found if probe.sees(obj)]

    # -- writing -------------------------------------------------------------------------

    def _record(self, change: Change) -> None:
        self.history.append(change)
        while len(self.history) > self.history_limit:
            self.compacted = self.history.popleft().rv
        for watcher in list(self.watchers):
            watcher.offer(change)

    def _put(self, resource: ResourceType, obj: JSON, kind: str, old: JSON | None) -> JSON:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        meta = obj["metadata"]
        key = (resource, meta.get("namespace", ""), meta["name"])
        if kind == "DELETED":
            self.objects.pop(key, None)
        else:
            self.objects[key] = obj
        self._record(Change(self.rv, resource, kind, copy.deepcopy(obj), old))
        return copy.deepcopy(obj)

    def create(self, resource: ResourceType, namespace: str, obj: JSON) -> JSON:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        name = meta.get("name") or ""
        if (resource, namespace, name) in self.objects:
            raise status_error(
                409,
                "AlreadyExists",
                f'{resource.plural} "{name}" already exists',
                name=name,
                group=resource.group,
                kind=resource.plural,
            )
        for stale in ("resourceVersion", "deletionTimestamp", "managedFields"):
            meta.pop(stale, None)
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=now(), generation=1)
        if resource.namespaced:
            meta["namespace"] = namespace
        obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
        _defaults.apply(resource, obj)
        return self._put(resource, obj, "ADDED", None)

    def update(self, resource: ResourceType, new: JSON, subresource: str | None) -> JSON:
        """Store `new` over the object of the same name. The main resource keeps the stored
        status and the status subresource changes only status, as the API server does; a
        stale `metadata.resourceVersion` in `new` is a 409 Conflict; a no-op moves nothing."""
        meta = new.get("metadata", {})
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        current = self.get(resource, namespace, name)
        for precondition in ("resourceVersion", "uid"):
            wanted = meta.get(precondition)
            if wanted and wanted != current["metadata"].get(precondition):
                raise conflict(resource, name)
        result = self._merged(resource, current, new, subresource)
        if _without_rv(result) == _without_rv(current):
            return copy.deepcopy(current)
        if _spec_of(result) != _spec_of(current):
            result["metadata"]["generation"] = current["metadata"].get("generation", 1) + 1
        if result["metadata"].get("deletionTimestamp") and not result["metadata"].get("finalizers"):
            return self._put(resource, result, "DELETED", None)
        return self._put(resource, result, "MODIFIED", copy.deepcopy(current))

    @staticmethod
    def _merged(resource: ResourceType, current: JSON, new: JSON, subresource: str | None) -> JSON:
        if subresource == "status":
            result = copy.deepcopy(current)
            result["status"] = copy.deepcopy(new.get("status", {}))
            return result
        result = copy.deepcopy(new)
        result["apiVersion"], result["kind"] = resource.api_version, resource.kind
        meta = result.setdefault("metadata", {})
        meta.update(_identity(current))
        meta["generation"] = current["metadata"].get("generation", 1)
        if "deletionTimestamp" in current["metadata"]:
            meta["deletionTimestamp"] = current["metadata"]["deletionTimestamp"]
        if resource.has_status:
            result["status"] = copy.deepcopy(current.get("status", {}))
        return result

    def delete(
        self, resource: ResourceType, namespace: str, name: str, orphan: bool = False
    ) -> JSON:
        """Delete an object and, unless orphaned, what it owns (ownerReferences by uid) or, for
        a Namespace, everything in it. Finalizers hold an object with a deletionTimestamp
        until an update removes them."""
        obj = copy.deepcopy(self.get(resource, namespace, name))
        meta = obj["metadata"]
        if meta.get("finalizers"):
            if not meta.get("deletionTimestamp"):
                old = copy.deepcopy(obj)
                meta["deletionTimestamp"] = now()
                return self._put(resource, obj, "MODIFIED", old)
            return obj
        if resource == NAMESPACES:
            self._empty_namespace(obj)
        deleted = self._put(resource, obj, "DELETED", None)
        if not orphan:
            for dependent in list(self._owned_by(meta["uid"])):
                self.delete(*dependent)
        return deleted

    def _empty_namespace(self, namespace: JSON) -> None:
        old = copy.deepcopy(namespace)
        namespace["metadata"]["deletionTimestamp"] = now()
        namespace.setdefault("status", {})["phase"] = "Terminating"
        self._put(NAMESPACES, namespace, "MODIFIED", old)
        name = namespace["metadata"]["name"]
        for key, obj in list(self.objects.items()):
            if key[0].namespaced and key[1] == name and key in self.objects:
                self._put(key[0], copy.deepcopy(obj), "DELETED", None)

    def _owned_by(self, uid: str) -> Iterator[Key]:
        for key, obj in list(self.objects.items()):
            refs = obj["metadata"].get("ownerReferences") or []
            if any(ref.get("uid") == uid for ref in refs):
                yield key

    # -- watching ------------------------------------------------------------------------

    def watch(self, watcher: Watcher, since: int | None) -> None:
        """Register a watch: from `since` (replayed from history), or, without one, starting
        with an ADDED event per current object. A `since` older than the history kept is 410
        Expired, raised before anything is queued."""
        if since is not None and since < self.compacted:
            raise status_error(
                410,
                "Expired",
                f"too old resource version: {since} ({self.compacted + 1})",
            )
        if since is None:
            for obj in self.select(
                watcher.resource, watcher.namespace, watcher.labels, watcher.fields
            ):
                watcher.queue.put_nowait({"type": "ADDED", "object": obj})
        else:
            for change in self.history:
                if change.rv > since:
                    watcher.offer(change)
        self.watchers.add(watcher)

    def compact(self) -> None:
        """Forget the history, so that a watch from any older version gets 410 Gone."""
        self.history.clear()
        self.compacted = self.rv

    def close_watches(self) -> None:
        for watcher in list(self.watchers):
            watcher.queue.put_nowait(None)
        self.watchers.clear()
