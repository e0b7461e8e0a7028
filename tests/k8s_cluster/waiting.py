"""Waiting on the cluster by watching it, never by sleeping."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar, cast

from lightkube import ApiError, AsyncClient

JSON = dict[str, Any]


async def wait_for(
    client: AsyncClient,
    resource: Any,
    name: str,
    until: Callable[[JSON], bool],
    *,
    namespace: str | None = None,
    timeout: float = 30,
) -> JSON:
    """The object (as a dict) once `until(obj)` holds: read it, then watch it from that
    resourceVersion. TimeoutError names the object and shows its last state."""
    last: list[JSON | None] = [None]

    async def watch() -> JSON:
        while True:
            version = None
            try:
                obj: JSON = (await client.get(resource, name, namespace=namespace)).to_dict()
                last[0] = obj
                if until(obj):
                    return obj
                version = obj["metadata"]["resourceVersion"]
            except ApiError as exc:
                if exc.status.code != 404:
                    raise
            async for event, item in client.watch(
                resource,
                namespace=namespace,
                fields={"metadata.name": name},
                resource_version=version,
            ):
                if event == "DELETED":
                    continue
                obj = dict(item.to_dict())
                last[0] = obj
                if until(obj):
                    return obj

    try:
        return await asyncio.wait_for(watch(), timeout)
    except TimeoutError:
        raise TimeoutError(
            f"{resource.__name__} {namespace}/{name} not as expected after {timeout}s; "
            f"last seen: {last[0]}"
        ) from None


async def wait_gone(
    client: AsyncClient,
    resource: Any,
    name: str,
    *,
    namespace: str | None = None,
    timeout: float = 30,
) -> None:
    """Return once the object does not exist (watched, not polled)."""

    async def watch() -> None:
        try:
            obj = await client.get(resource, name, namespace=namespace)
        except ApiError as exc:
            if exc.status.code == 404:
                return
            raise
        version = obj.metadata.resourceVersion
        async for event, _ in client.watch(
            resource, namespace=namespace, fields={"metadata.name": name}, resource_version=version
        ):
            if event == "DELETED":
                return

    try:
        await asyncio.wait_for(watch(), timeout)
    except TimeoutError:
        raise TimeoutError(
            f"{resource.__name__} {namespace}/{name} still there after {timeout}s"
        ) from None


def condition(obj: JSON, kind: str) -> JSON:
    """The status condition of that type ({} when absent)."""
    for cond in obj.get("status", {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return {}


def is_ready(obj: JSON) -> bool:
    return condition(obj, "Ready").get("status") == "True"


R = TypeVar("R")


def build(kind: type[R], data: JSON) -> R:
    """A lightkube object of `kind` from a plain dict, typed as that kind."""
    return cast(R, cast(Any, kind).from_dict(data))
