"""Async Python client of the controller API; errors come back as the `RunecraftError`
subclass the controller raised, with its message."""

from __future__ import annotations

import ssl
from typing import Any, Self
from urllib.parse import quote

import httpx

from runecraft import _tracing, errors
from runecraft.client import _wire
from runecraft.schemas import api, audit, constraints, machines, resources, secrets
from runecraft.schemas import hooks as hook_schema
from runecraft.schemas import logs as log_schema
from runecraft.schemas import users as user_schema
from runecraft.schemas.secrets import SecretQuery

__all__ = ["Client"]


class Client:
    """`async with Client(url, token) as c: await c.status("default")`.

    An empty `token` sends no credentials (enough for `login` and `health`).

    `transport` replaces the network, as in httpx: `httpx.ASGITransport(app)` runs every
    request in process against a controller app (tests), `httpx.MockTransport` against a
    handler.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = _wire.TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        ca_cert: str | None = None,
    ) -> None:
        """`ca_cert`: the controller's CA (PEM) an https `url` is verified against, instead
        of the system's CAs."""
        self._http = httpx.AsyncClient(
            base_url=url,
            verify=ssl.create_default_context(cadata=ca_cert) if ca_cert else True,
            headers={"Authorization": f"Bearer {token}"} if token else {},
            timeout=httpx.Timeout(timeout, connect=_wire.CONNECT_TIMEOUT),
            transport=transport,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        if trace := _tracing.headers():  # the command's span, parent of the API's
            kwargs["headers"] = {**kwargs.get("headers", {}), **trace}
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
        error = _wire.error_from(response.content)
        raise error or errors.RunecraftError(f"HTTP {response.status_code}: {response.text}")

    # --- controller ---------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._request("GET", "/v1/health")
        return result

    async def controller(self) -> api.ControllerInfo:
        return api.ControllerInfo.model_validate(await self._request("GET", "/v1/controller"))

    async def rotate_secrets_key(self) -> secrets.KeyRotation:
        result = await self._request("POST", "/v1/controller/secrets-key/rotate")
        return secrets.KeyRotation.model_validate(result)

    async def audit_log(self, *, limit: int = 50, model: str | None = None) -> audit.AuditPage:
        params: dict[str, Any] = {"limit": limit}
        if model is not None:
            params["model"] = model
        return audit.AuditPage.model_validate(
            await self._request("GET", "/v1/audit", params=params)
        )

    async def shutdown(self, *, destroy: bool = False) -> None:
        await self._request("POST", "/v1/controller/shutdown", params={"destroy": destroy})

    # --- users --------------------------------------------------------------------------

    async def login(
        self, user: str, password: str, *, ttl: float = 24 * 3600.0
    ) -> user_schema.LoginResponse:
        """A token for `user` that expires after `ttl` seconds (needs no token itself)."""
        body = user_schema.LoginRequest(user=user, password=password, ttl=ttl)
        return user_schema.LoginResponse.model_validate(
            await self._request("POST", "/v1/login", json=body.model_dump())
        )

    async def logout(self) -> bool:
        """Revoke this client's token; False for the controller's admin token."""
        result = await self._request("POST", "/v1/logout")
        return bool(result["revoked"])

    async def whoami(self) -> user_schema.WhoAmI:
        return user_schema.WhoAmI.model_validate(await self._request("GET", "/v1/whoami"))

    async def users(self) -> list[user_schema.UserInfo]:
        return [
            user_schema.UserInfo.model_validate(u) for u in await self._request("GET", "/v1/users")
        ]

    async def add_user(
        self, name: str, display_name: str = "", password: str | None = None
    ) -> user_schema.AddUserResponse:
        """Add a user; without `password` the controller makes one (answered once)."""
        body = user_schema.AddUserRequest(name=name, display_name=display_name, password=password)
        return user_schema.AddUserResponse.model_validate(
            await self._request("POST", "/v1/users", json=body.model_dump())
        )

    async def remove_user(self, name: str) -> None:
        await self._request("DELETE", f"/v1/users/{quote(name, safe='')}")

    async def set_password(self, name: str, password: str) -> int:
        """Change a password; returns how many of the user's other tokens were revoked."""
        body = user_schema.PasswordRequest(password=password)
        result = await self._request(
            "PUT", f"/v1/users/{quote(name, safe='')}/password", json=body.model_dump()
        )
        return int(result["revoked"])

    async def grant(
        self,
        name: str,
        level: str,
        models: list[str] | None = None,
        offers: list[str] | None = None,
    ) -> None:
        """Juju's `grant`: a model level on `models`, an offer level on `offers` (offer
        URLs), or a controller level."""
        await self._access(name, "grant", level, models or [], offers or [])

    async def revoke(
        self,
        name: str,
        level: str,
        models: list[str] | None = None,
        offers: list[str] | None = None,
    ) -> None:
        """Juju's `revoke`: one level down from `level`."""
        await self._access(name, "revoke", level, models or [], offers or [])

    async def _access(
        self, name: str, verb: str, level: str, models: list[str], offers: list[str]
    ) -> None:
        body = user_schema.AccessChange.model_validate(
            {"level": level, "models": models, "offers": offers}
        )
        await self._request(
            "POST", f"/v1/users/{quote(name, safe='')}/{verb}", json=body.model_dump()
        )

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

    async def destroy_model(self, name: str, *, force: bool = False) -> None:
        await self._request("DELETE", f"/v1/models/{name}", params={"force": force})

    # --- clouds -------------------------------------------------------------------------

    async def clouds(self) -> list[api.CloudInfo]:
        """The controller's clouds: built-in and added."""
        return [api.CloudInfo.model_validate(c) for c in await self._request("GET", "/v1/clouds")]

    async def show_cloud(self, name: str) -> api.CloudInfo:
        return api.CloudInfo.model_validate(
            await self._request("GET", f"/v1/clouds/{quote(name, safe='')}")
        )

    async def add_cloud(self, request: api.AddCloudRequest) -> api.CloudInfo:
        """Add a Kubernetes cloud (its kubeconfig with every file embedded)."""
        return api.CloudInfo.model_validate(
            await self._request("POST", "/v1/clouds", json=request.model_dump())
        )

    async def update_cloud(self, name: str, request: api.UpdateCloudRequest) -> api.CloudInfo:
        """Point a cloud the controller has at a new endpoint and certificate authority."""
        return api.CloudInfo.model_validate(
            await self._request(
                "PUT", f"/v1/clouds/{quote(name, safe='')}", json=request.model_dump()
            )
        )

    async def set_cloud_credential(
        self, name: str, request: api.CloudCredentialRequest
    ) -> api.CloudInfo:
        """Give a cloud the controller has the credential it authenticates with."""
        return api.CloudInfo.model_validate(
            await self._request(
                "PUT", f"/v1/clouds/{quote(name, safe='')}/credential", json=request.model_dump()
            )
        )

    async def remove_cloud(self, name: str) -> None:
        await self._request("DELETE", f"/v1/clouds/{quote(name, safe='')}")

    # --- charms and applications --------------------------------------------------------

    async def upload_charm(self, data: bytes, model: str | None = None) -> api.CharmInfo:
        """`model`: the model it is for (the controller checks write access to it, and a
        refusal names it)."""
        return api.CharmInfo.model_validate(
            await self._request(
                "POST",
                "/v1/charms",
                content=data,
                headers={"Content-Type": "application/zip"},
                params={"model": model} if model else None,
            )
        )

    async def deploy(self, model: str, request: api.DeployRequest) -> list[str]:
        result = await self._request(
            "POST", f"/v1/models/{model}/applications", json=request.model_dump()
        )
        return list(api.UnitsResponse.model_validate(result).units)

    # --- bundles ------------------------------------------------------------------------

    async def plan_bundle(self, model: str, request: api.BundleRequest) -> api.BundleResponse:
        """The changes the bundle would make (`response.plan`); nothing changes."""
        body = request.model_copy(update={"dry_run": True}).model_dump()
        return api.BundleResponse.model_validate(
            await self._request("POST", f"/v1/models/{model}/bundle", json=body)
        )

    async def apply_bundle(self, model: str, request: api.BundleRequest) -> api.BundleResponse:
        """Plan and apply the bundle in one transaction on the controller: every change,
        or on any error none. Upload the charms it names first (`upload_charm`)."""
        return api.BundleResponse.model_validate(
            await self._request("POST", f"/v1/models/{model}/bundle", json=request.model_dump())
        )

    async def export_bundle(self, model: str) -> str:
        """The model as a bundle (YAML)."""
        result = await self._request("GET", f"/v1/models/{model}/bundle")
        return api.BundleExport.model_validate(result).bundle

    async def remove_application(
        self, model: str, application: str, *, force: bool = False, no_wait: bool = False
    ) -> None:
        await self._request(
            "DELETE",
            f"/v1/models/{model}/applications/{application}",
            params={"force": force, "no_wait": no_wait},
        )

    async def add_units(
        self, model: str, application: str, num_units: int, to: list[str] | None = None
    ) -> list[str]:
        body = api.AddUnitsRequest(num_units=num_units, to=to or [])
        result = await self._request(
            "POST", f"/v1/models/{model}/applications/{application}/units", json=body.model_dump()
        )
        return list(api.UnitsResponse.model_validate(result).units)

    async def scale_application(
        self, model: str, application: str, *, scale: int | None = None, change: int | None = None
    ) -> api.ScaleResponse:
        """Bring the application to `scale` alive units, or `change` more or fewer (units
        leave highest number first)."""
        body = api.ScaleRequest(scale=scale, change=change)
        result = await self._request(
            "POST",
            f"/v1/models/{model}/applications/{application}/scale",
            json=body.model_dump(exclude_none=True),
        )
        return api.ScaleResponse.model_validate(result)

    async def remove_units(
        self, model: str, units: list[str], *, force: bool = False, no_wait: bool = False
    ) -> None:
        body = api.RemoveUnitsRequest(units=units, force=force, no_wait=no_wait)
        await self._request("POST", f"/v1/models/{model}/units/remove", json=body.model_dump())

    async def get_config(self, model: str, application: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._request(
            "GET", f"/v1/models/{model}/applications/{application}/config"
        )
        return result

    async def set_config(
        self, model: str, application: str, values: dict[str, Any], reset: list[str] | None = None
    ) -> dict[str, Any]:
        body = api.ConfigRequest(values=values, reset=reset or [])
        result: dict[str, Any] = await self._request(
            "PATCH",
            f"/v1/models/{model}/applications/{application}/config",
            json=body.model_dump(),
        )
        return result

    async def refresh(
        self,
        model: str,
        application: str,
        charm_sha256: str,
        origin: api.CharmOrigin | None = None,
    ) -> api.RefreshResponse:
        body = api.RefreshRequest(charm_sha256=charm_sha256, origin=origin)
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

    # --- cross-model relations ----------------------------------------------------------

    async def offer(
        self, model: str, application: str, endpoints: list[str], name: str | None = None
    ) -> api.OfferInfo:
        body = api.OfferRequest(application=application, endpoints=endpoints, name=name)
        return api.OfferInfo.model_validate(
            await self._request("POST", f"/v1/models/{model}/offers", json=body.model_dump())
        )

    async def offers(self, model: str) -> list[api.OfferInfo]:
        return [
            api.OfferInfo.model_validate(o)
            for o in await self._request("GET", f"/v1/models/{model}/offers")
        ]

    async def find_offers(
        self,
        *,
        model: str | None = None,
        offer: str | None = None,
        interface: str | None = None,
    ) -> list[api.OfferInfo]:
        """The offers of every model the caller may read (Juju's `find-offers`)."""
        given = {"model": model, "offer": offer, "interface": interface}
        params = {k: v for k, v in given.items() if v is not None}
        return [
            api.OfferInfo.model_validate(o)
            for o in await self._request("GET", "/v1/offers", params=params)
        ]

    async def remove_offer(self, model: str, name: str, *, force: bool = False) -> None:
        body = api.RemoveOfferRequest(name=name, force=force)
        await self._request("POST", f"/v1/models/{model}/offers/remove", json=body.model_dump())

    async def consume(self, model: str, url: str, alias: str | None = None) -> api.SaasInfo:
        body = api.ConsumeRequest(url=url, alias=alias)
        return api.SaasInfo.model_validate(
            await self._request("POST", f"/v1/models/{model}/saas", json=body.model_dump())
        )

    async def remove_saas(self, model: str, name: str) -> None:
        body = api.RemoveSaasRequest(name=name)
        await self._request("POST", f"/v1/models/{model}/saas/remove", json=body.model_dump())

    async def saas(self, model: str) -> list[api.SaasInfo]:
        return [
            api.SaasInfo.model_validate(o)
            for o in await self._request("GET", f"/v1/models/{model}/saas")
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

    async def ssh_keys(self, model: str) -> list[dict[str, str]]:
        """The model's authorized keys: `fingerprint`, `comment`, `key` of each."""
        result: list[dict[str, str]] = await self._request("GET", f"/v1/models/{model}/ssh-keys")
        return result

    async def add_ssh_keys(self, model: str, keys: list[str]) -> list[dict[str, str]]:
        result: list[dict[str, str]] = await self._request(
            "POST", f"/v1/models/{model}/ssh-keys", json={"keys": keys}
        )
        return result

    async def remove_ssh_keys(self, model: str, ids: list[str]) -> list[dict[str, str]]:
        result: list[dict[str, str]] = await self._request(
            "POST", f"/v1/models/{model}/ssh-keys/remove", json={"ids": ids}
        )
        return result

    async def model_defaults(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._request("GET", "/v1/controller/model-defaults")
        return result

    async def set_model_defaults(
        self, values: dict[str, Any], reset: list[str] | None = None
    ) -> dict[str, Any]:
        body = {"values": values, "reset": reset or []}
        result: dict[str, Any] = await self._request(
            "PATCH", "/v1/controller/model-defaults", json=body
        )
        return result

    async def charm_actions(self, model: str, application: str) -> dict[str, Any]:
        """The actions of the application's charm: name → its parameters' JSON schema."""
        result: dict[str, Any] = await self._request(
            "GET", f"/v1/models/{model}/applications/{application}/actions"
        )
        return result

    # --- status -------------------------------------------------------------------------

    async def status(
        self, model: str, *, after: int | None = None, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Juju-shaped status; with `after`, waits (server-side) until something changed."""
        params: dict[str, Any] = {}
        if after is not None:
            params = {"after": after, "timeout": timeout}
        result: dict[str, Any] = await self._request("GET", _wire.status_path(model), params=params)
        return result

    # --- units --------------------------------------------------------------------------

    async def show_unit(self, model: str, unit: str) -> dict[str, Any]:
        """Juju's `show-unit` document: `{unit: {charm, leader, relation-info, …}}`."""
        application, _, number = unit.partition("/")
        if not application or not number or "/" in number:
            raise errors.InvalidSpecError(
                f'invalid unit name "{unit}": expected APPLICATION/NUMBER'
            )
        result: dict[str, Any] = await self._request(
            "GET", f"/v1/models/{model}/units/{application}/{number}"
        )
        return result

    @staticmethod
    def _unit_path(model: str, unit: str) -> str:
        application, _, number = unit.partition("/")
        if not application or not number.isdigit():
            raise errors.InvalidSpecError(
                f'invalid unit name "{unit}": expected APPLICATION/NUMBER'
            )
        return f"/v1/models/{model}/units/{application}/{number}"

    async def hook_runs(
        self, model: str, unit: str, *, limit: int = 20
    ) -> list[hook_schema.HookRunSummary]:
        """The unit's newest `limit` hook runs, oldest first."""
        found = await self._request(
            "GET", f"{self._unit_path(model, unit)}/hooks", params={"limit": limit}
        )
        return [hook_schema.HookRunSummary.model_validate(run) for run in found]

    async def hook_run(self, model: str, unit: str, run_id: int) -> hook_schema.HookRunDetail:
        """One hook run of the unit, with its environment and tool calls."""
        found = await self._request("GET", f"{self._unit_path(model, unit)}/hooks/{run_id}")
        return hook_schema.HookRunDetail.model_validate(found)

    # --- machines -----------------------------------------------------------------------

    async def new_machines(
        self, model: str, count: int = 1, substrate: str | None = None
    ) -> list[str]:
        """New machines on the model's cloud (or `lxd`), kept while they host no unit."""
        body = {"count": count, **({"substrate": substrate} if substrate else {})}
        result = await self._request("POST", f"/v1/models/{model}/machines/new", json=body)
        return list(machines.NewMachinesResponse.model_validate(result).machines)

    async def add_machine(
        self, model: str, request: machines.AddMachineRequest
    ) -> machines.AddMachineResponse:
        """Enlist an existing machine over SSH (returns once its agent runs)."""
        return machines.AddMachineResponse.model_validate(
            await self._request(
                "POST",
                f"/v1/models/{model}/machines",
                json=request.model_dump(),
                timeout=httpx.Timeout(900.0, connect=5.0),
            )
        )

    async def remove_machine(
        self, model: str, number: str, *, force: bool = False
    ) -> machines.RemoveMachineResponse:
        return machines.RemoveMachineResponse.model_validate(
            await self._request(
                "DELETE",
                f"/v1/models/{model}/machines/{number}",
                params={"force": force},
                timeout=httpx.Timeout(300.0, connect=5.0),
            )
        )

    # --- logs -----------------------------------------------------------------------------

    async def logs(
        self,
        model: str,
        *,
        include: list[str] | None = None,
        exclude: list[str] | None = None,
        level: str = "TRACE",
        after: int | None = None,
        last: int | None = None,
        limit: int = 1000,
        wait: float = 0.0,
    ) -> log_schema.LogPage:
        """Unit log lines (see the `/logs` route); `wait` long-polls for lines after `after`."""
        params: dict[str, Any] = {
            "include": include or [],
            "exclude": exclude or [],
            "level": level,
            "limit": limit,
            "wait": wait,
        }
        if after is not None:
            params["after"] = after
        if last is not None:
            params["last"] = last
        page = await self._request("GET", f"/v1/models/{model}/logs", params=params)
        return log_schema.LogPage.model_validate(page)

    # --- secrets --------------------------------------------------------------------------

    def _secret_path(self, model: str, ref: str = "") -> str:
        base = f"/v1/models/{model}/secrets"
        return f"{base}/{quote(ref, safe=':')}" if ref else base

    async def add_secret(self, model: str, request: secrets.AddSecretRequest) -> str:
        """A new user secret; returns its URI (`secret:<id>`)."""
        result = await self._request(
            "POST", self._secret_path(model), json=request.model_dump(mode="json")
        )
        return secrets.AddSecretResponse.model_validate(result).uri

    async def update_secret(
        self, model: str, ref: str, request: secrets.UpdateSecretRequest
    ) -> None:
        await self._request(
            "PATCH", self._secret_path(model, ref), json=request.model_dump(mode="json")
        )

    async def grant_secret(self, model: str, ref: str, applications: list[str]) -> None:
        body = secrets.SecretAccessRequest(applications=applications).model_dump()
        await self._request("POST", self._secret_path(model, ref) + "/grant", json=body)

    async def revoke_secret(self, model: str, ref: str, applications: list[str]) -> None:
        body = secrets.SecretAccessRequest(applications=applications).model_dump()
        await self._request("POST", self._secret_path(model, ref) + "/revoke", json=body)

    async def remove_secret(self, model: str, ref: str, revision: int | None = None) -> None:
        params = {} if revision is None else {"revision": revision}
        await self._request("DELETE", self._secret_path(model, ref), params=params)

    async def secrets(
        self, model: str, *, owner: str | None = None, reveal: bool = False
    ) -> dict[str, Any]:
        """`{<bare-id>: {...}}` of every secret of the model (`juju secrets` JSON)."""
        params: dict[str, Any] = {"reveal": reveal}
        if owner is not None:
            params["owner"] = owner
        result: dict[str, Any] = await self._request("GET", self._secret_path(model), params=params)
        return result

    async def show_secret(
        self, model: str, ref: str, query: SecretQuery | None = None
    ) -> dict[str, Any]:
        """`{<bare-id>: {...}}` of one secret (`juju show-secret` JSON)."""
        params = (query or SecretQuery()).model_dump(exclude_none=True)
        result: dict[str, Any] = await self._request(
            "GET", self._secret_path(model, ref), params=params
        )
        return result

    # --- application settings (constraints, trust, base) --------------------------------

    async def application_settings(
        self, model: str, application: str
    ) -> constraints.ApplicationSettings:
        return constraints.ApplicationSettings.model_validate(
            await self._request("GET", f"/v1/models/{model}/applications/{application}/settings")
        )

    async def set_application_settings(
        self,
        model: str,
        application: str,
        *,
        constraints_items: list[str] | None = None,
        trust: bool | None = None,
        base: str | None = None,
        exposed: bool | None = None,
    ) -> constraints.ApplicationSettings:
        body = constraints.SetApplicationSettings(
            constraints=constraints_items, trust=trust, base=base, exposed=exposed
        )
        return constraints.ApplicationSettings.model_validate(
            await self._request(
                "PATCH",
                f"/v1/models/{model}/applications/{application}/settings",
                json=body.model_dump(exclude_none=True),
            )
        )

    async def model_constraints(self, model: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._request("GET", f"/v1/models/{model}/constraints")
        return result

    async def set_model_constraints(self, model: str, items: list[str]) -> dict[str, Any]:
        body = constraints.ModelConstraints(constraints=items)
        result: dict[str, Any] = await self._request(
            "PUT", f"/v1/models/{model}/constraints", json=body.model_dump()
        )
        return result

    # --- resources ------------------------------------------------------------------------

    async def upload_resource(
        self, data: bytes, model: str | None = None
    ) -> resources.ResourceInfo:
        """Upload a resource file (kept once per content) for `model`; returns its sha256."""
        return resources.ResourceInfo.model_validate(
            await self._request(
                "POST",
                "/v1/resources",
                content=data,
                headers={"Content-Type": "application/octet-stream"},
                params={"model": model} if model else None,
            )
        )

    async def attach_resources(
        self, model: str, application: str, given: dict[str, str]
    ) -> list[resources.ResourceInfo]:
        """Make uploaded files (name → sha256) the application's resources."""
        body = resources.AttachResourceRequest(resources=given)
        result = await self._request(
            "POST",
            f"/v1/models/{model}/applications/{application}/resources",
            json=body.model_dump(),
        )
        return [resources.ResourceInfo.model_validate(item) for item in result]

    async def resources(self, model: str, application: str) -> resources.ApplicationResources:
        """Every resource the application's charm declares, and what is attached of each."""
        result = await self._request(
            "GET", f"/v1/models/{model}/applications/{application}/resources"
        )
        return resources.ApplicationResources.model_validate(result)

    async def status_log(
        self, model: str, entity: str, *, kind: str | None = None, limit: int = 20
    ) -> list[log_schema.StatusHistoryEntry]:
        params: dict[str, Any] = {"entity": entity, "limit": limit}
        if kind is not None:
            params["type"] = kind
        found = await self._request("GET", f"/v1/models/{model}/status-log", params=params)
        return [log_schema.StatusHistoryEntry.model_validate(entry) for entry in found]
