"""Requests parsed as the API server reads their paths.

kmock's parser takes `/api/v1/namespaces/NAME` for a namespace prefix, so Namespace objects
cannot be addressed through it; this parser reads the paths the way kube-apiserver does.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp.web
import kmock


@dataclass(frozen=True)
class ApiPath:
    group: str
    version: str | None
    plural: str | None
    namespace: str | None
    name: str | None
    subresource: str | None


def parse_path(path: str) -> ApiPath | None:
    """The parts of an API path, or None for a path outside /api and /apis."""
    parts = [part for part in path.strip("/").split("/") if part]
    version: str | None
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 2 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2] if len(parts) > 2 else None, parts[3:]
    else:
        return None
    namespace = None
    namespace_subresource = len(rest) == 3 and rest[2] in ("status", "finalize")
    if len(rest) >= 3 and rest[0] == "namespaces" and not namespace_subresource:
        namespace, rest = rest[1], rest[2:]
    padded = [*rest, None, None]
    sub = "/".join(rest[2:]) or None
    return ApiPath(group, version, padded[0], namespace, padded[1], sub)


def _action(api: ApiPath, method: str, watch: bool) -> kmock.action | None:
    if method == "GET" and watch:
        return kmock.action.WATCH
    by_method = (
        {"GET": kmock.action.LIST, "POST": kmock.action.CREATE}
        if api.name is None
        else {
            "GET": kmock.action.FETCH,
            "PATCH": kmock.action.UPDATE,
            "PUT": kmock.action.UPDATE,
            "DELETE": kmock.action.DELETE,
        }
    )
    return by_method.get(method)


async def parse_request(raw: aiohttp.web.BaseRequest, number: int) -> kmock.Request:
    """A kmock Request (so that kmock's reactions and assertions keep working)."""
    body = await raw.read()
    text = body.decode("utf-8", errors="replace")
    try:
        data = await raw.json() if text.strip() else None
    except ValueError:
        data = None
    api = parse_path(raw.path)
    method = raw.method.upper()
    query = dict(raw.query)
    return kmock.Request(
        id=number,
        raw_request=raw,
        url=raw.url,
        method=method,
        params=query,
        headers=dict(raw.headers),
        cookies=dict(raw.cookies),
        body=body,
        text=text,
        data=data,
        action=None if api is None else _action(api, method, query.get("watch") in ("true", "1")),
        resource=None
        if api is None
        else kmock.resource(group=api.group, version=api.version, plural=api.plural),
        namespace=None if api is None else api.namespace,
        name=None if api is None else api.name,
        subresource=None if api is None else api.subresource,
    )
