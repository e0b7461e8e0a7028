"""List-then-watch through the API, as a controller's informer does."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import httpx2
import structlog
from lightkube import ALL_NS, ApiError, AsyncClient, KubeConfig

JSON = dict[str, Any]
Key = tuple[str, str]
Handler = Callable[[str, JSON], Awaitable[None]]

log = structlog.get_logger("tests.k8s_cluster")


def server_of(config: KubeConfig) -> str:
    """The API server URL of the kubeconfig's current context."""
    single = config.get()
    if single is None:
        raise ValueError("the kubeconfig has no current context")
    return str(single.cluster.server)


def key_of(obj: JSON) -> Key:
    meta = obj.get("metadata", {})
    return meta.get("namespace", ""), meta.get("name", "")


class Informer:
    """Keeps `cache` equal to the cluster's objects of one kind and calls `handler(event,
    obj)` for every change: list, then watch from the list's resourceVersion; on 410 Gone or
    a lost API, list again (with back-off) and report what changed in between."""

    def __init__(self, client: AsyncClient, resource: Any, handler: Handler) -> None:
        self.client = client
        self.resource = resource
        self.handler = handler
        self.cache: dict[Key, JSON] = {}
        self.synced = asyncio.Event()
        self.relists = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"informer-{self.resource.__name__}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        delay = 0.05
        while True:
            try:
                version = await self._relist()
                delay = 0.05
                await self._watch(version)
            except ApiError as exc:
                if exc.status.code != 410:
                    log.info(
                        "informer.api_error", kind=self.resource.__name__, code=exc.status.code
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 1.0)
            except (httpx2.HTTPError, OSError) as exc:
                log.debug("informer.unreachable", kind=self.resource.__name__, error=str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def _relist(self) -> str:
        listing = self.client.list(self.resource, namespace=ALL_NS)
        seen: dict[Key, JSON] = {}
        async for item in listing:
            obj = item.to_dict()
            seen[key_of(obj)] = obj
        self.relists += 1
        for key in list(self.cache):
            if key not in seen:
                await self._apply("DELETED", self.cache[key])
        for obj in seen.values():
            known = self.cache.get(key_of(obj))
            if known is None or known["metadata"].get("resourceVersion") != obj["metadata"].get(
                "resourceVersion"
            ):
                await self._apply("MODIFIED" if known else "ADDED", obj)
        self.synced.set()
        return str(listing.resourceVersion)

    async def _watch(self, version: str) -> None:
        async for event, item in self.client.watch(
            self.resource, namespace=ALL_NS, resource_version=version
        ):
            await self._apply(event, item.to_dict())

    async def _apply(self, event: str, obj: JSON) -> None:
        if event == "DELETED":
            self.cache.pop(key_of(obj), None)
        else:
            self.cache[key_of(obj)] = obj
        try:
            await self.handler(event, obj)
        except Exception:
            log.exception("informer.handler_failed", kind=self.resource.__name__)
