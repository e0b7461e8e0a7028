"""Async Python client of the controller API; errors come back as the `RunecraftError`
subclass the controller raised, with its message."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import httpx

from runecraft import errors
from runecraft.schemas import api

__all__ = ["Client"]


class Client:
    """`async with Client(url, token) as c: await c.status("default")`."""

    def __init__(self, url: str, token: str, *, timeout: float = 60.0) -> None:
        self._http = httpx.AsyncClient(
            base_url=url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(timeout, connect=5.0),
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise errors.TemporaryError(f"controller timed out: {exc}") from exc
        except httpx.TransportError as exc:
            raise errors.TemporaryError(
                f"cannot reach the controller at {self._http.base_url}: {exc}"
            ) from exc
        if response.is_success:
            return response.json() if response.content else None
        try:
            detail = response.json()["error"]
            cls = errors.BY_CODE.get(detail["code"], errors.RunecraftError)
            message = str(detail["message"])
        except (ValueError, KeyError, TypeError):
            cls, message = errors.RunecraftError, f"HTTP {response.status_code}: {response.text}"
        raise cls(message)

    # --- controller ---------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._request("GET", "/v1/health")
        return result

    async def controller(self) -> api.ControllerInfo:
        return api.ControllerInfo.model_validate(await self._request("GET", "/v1/controller"))

    async def shutdown(self, *, destroy: bool = False) -> None:
        await self._request("POST", "/v1/controller/shutdown", params={"destroy": destroy})

    # --- models -------------------------------------------------------------------------

    async def models(self) -> list[api.ModelInfo]:
        return [api.ModelInfo.model_validate(m) for m in await self._request("GET", "/v1/models")]

    async def add_model(
        self, name: str, cloud: str = "local", config: dict[str, Any] | None = None
    ) -> api.ModelInfo:
        body = api.AddModelRequest(name=name, cloud=cloud, config=config or {})
        return api.ModelInfo.model_validate(
            await self._request("POST", "/v1/models", json=body.model_dump())
        )

    async def show_model(self, name: str) -> api.ModelInfo:
        return api.ModelInfo.model_validate(await self._request("GET", f"/v1/models/{name}"))

    async def destroy_model(self, name: str) -> None:
        await self._request("DELETE", f"/v1/models/{name}")

    # --- charms and applications --------------------------------------------------------

    async def upload_charm(self, data: bytes) -> api.CharmInfo:
        return api.CharmInfo.model_validate(
            await self._request(
                "POST", "/v1/charms", content=data, headers={"Content-Type": "application/zip"}
            )
        )

    async def deploy(self, model: str, request: api.DeployRequest) -> list[str]:
        result = await self._request(
            "POST", f"/v1/models/{model}/applications", json=request.model_dump()
        )
        return list(api.UnitsResponse.model_validate(result).units)

    async def remove_application(self, model: str, application: str) -> None:
        await self._request("DELETE", f"/v1/models/{model}/applications/{application}")

    async def add_units(
        self, model: str, application: str, num_units: int, to: list[str] | None = None
    ) -> list[str]:
        body = api.AddUnitsRequest(num_units=num_units, to=to or [])
        result = await self._request(
            "POST", f"/v1/models/{model}/applications/{application}/units", json=body.model_dump()
        )
        return list(api.UnitsResponse.model_validate(result).units)

    async def remove_units(self, model: str, units: list[str]) -> None:
        body = api.RemoveUnitsRequest(units=units)
        await self._request("POST", f"/v1/models/{model}/units/remove", json=body.model_dump())

    async def get_config(self, model: str, application: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._request(
            "GET", f"/v1/models/{model}/applications/{application}/config"
        )
        return result

    async def set_config(
        self,
        model: str,
        application: str,
        values: dict[str, Any],
        reset: list[str] | None = None,
    ) -> dict[str, Any]:
        body = api.ConfigRequest(values=values, reset=reset or [])
        result: dict[str, Any] = await self._request(
            "PATCH",
            f"/v1/models/{model}/applications/{application}/config",
            json=body.model_dump(),
        )
        return result

    async def refresh(self, model: str, application: str, charm_sha256: str) -> api.RefreshResponse:
        body = api.RefreshRequest(charm_sha256=charm_sha256)
        return api.RefreshResponse.model_validate(
            await self._request(
                "POST",
                f"/v1/models/{model}/applications/{application}/refresh",
                json=body.model_dump(),
            )
        )

    async def resolve(self, model: str, units: list[str], *, no_retry: bool = False) -> None:
        body = api.ResolveRequest(units=units, no_retry=no_retry)
        await self._request("POST", f"/v1/models/{model}/units/resolve", json=body.model_dump())

    async def get_model_config(self, model: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._request("GET", f"/v1/models/{model}/config")
        return result

    async def set_model_config(
        self, model: str, values: dict[str, Any], reset: list[str] | None = None
    ) -> dict[str, Any]:
        body = api.ModelConfigRequest(values=values, reset=reset or [])
        result: dict[str, Any] = await self._request(
            "PATCH", f"/v1/models/{model}/config", json=body.model_dump()
        )
        return result

    # --- relations ----------------------------------------------------------------------

    async def integrate(self, model: str, first: str, second: str) -> api.RelationInfo:
        body = api.IntegrateRequest(endpoints=[first, second])
        return api.RelationInfo.model_validate(
            await self._request("POST", f"/v1/models/{model}/relations", json=body.model_dump())
        )

    async def remove_relation(self, model: str, *endpoints: str) -> None:
        body = api.RemoveRelationRequest(endpoints=list(endpoints))
        await self._request("POST", f"/v1/models/{model}/relations/remove", json=body.model_dump())

    async def relations(self, model: str) -> list[api.RelationInfo]:
        return [
            api.RelationInfo.model_validate(r)
            for r in await self._request("GET", f"/v1/models/{model}/relations")
        ]

    # --- actions ------------------------------------------------------------------------

    async def run_action(
        self,
        model: str,
        units: list[str],
        action: str,
        params: dict[str, Any] | None = None,
    ) -> list[api.ActionInfo]:
        """Queue an action on units; returns the queued actions (one per unit)."""
        body = api.RunActionRequest(units=units, action=action, params=params or {})
        result = await self._request("POST", f"/v1/models/{model}/actions", json=body.model_dump())
        return list(api.ActionsResponse.model_validate(result).actions)

    async def action(self, model: str, action_id: str, *, wait: float = 0.0) -> api.ActionInfo:
        """An action; with `wait` (seconds, at most 30 per call), once it finished."""
        params = {"wait": wait} if wait > 0 else {}
        return api.ActionInfo.model_validate(
            await self._request("GET", f"/v1/models/{model}/actions/{action_id}", params=params)
        )

    # --- status -------------------------------------------------------------------------

    async def status(
        self, model: str, *, after: int | None = None, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Juju-shaped status; with `after`, waits (server-side) until something changed."""
        params: dict[str, Any] = {}
        if after is not None:
            params = {"after": after, "timeout": timeout}
        result: dict[str, Any] = await self._request(
            "GET", f"/v1/models/{model}/status", params=params
        )
        return result
