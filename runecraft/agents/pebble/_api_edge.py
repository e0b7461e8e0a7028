"""The small endpoints: system-info, identities and signals (pebble.md §3.1, §3.9, §3.12).

`/v1/warnings` is deliberately absent: Pebble 1.16 removed it, so it answers the generic
404 like any unknown path (§3.3).

Identities are kept in memory and shown as Pebble shows them (secrets masked); they do
not change who may call what (root and the daemon's uid are admin, others read), which is
Pebble's behaviour whenever no identity matches.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import yaml

from runecraft.agents.pebble import _gotext, _http

__all__ = ["Identities", "SignalSender", "add_routes"]

VERSION = "1.19.0-runecraft"
"""Pebble 1.19 semantics (what Juju 3.6.4+ ships) plus the later fields ops reads."""

_ACCESS = ("admin", "read", "metrics", "untrusted")
_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_\-]*\Z")


class SignalSender(Protocol):
    """What signals need of the service manager."""

    def send_signal(self, names: Sequence[str], signame: str) -> object:
        """Signal each service's main process; raises with Pebble's message if one is
        not running or the name is not a signal (may be a coroutine function)."""
        ...


def add_routes(
    router: _http.Router,
    *,
    boot_id: str,
    http_address: Callable[[], str | None],
    identities: Identities,
    services: Callable[[], SignalSender],
) -> None:
    """Serve system-info, identities and signals."""

    async def system_info(_request: _http.Request) -> _http.Response:
        info = {"version": VERSION, "boot-id": boot_id}
        address = http_address()
        if address:
            info["http-address"] = address
        return _http.sync_response(info)

    async def signals(request: _http.Request) -> _http.Response:
        body = request.json_object()
        names = body.get("services") or []
        signame = body.get("signal") or ""
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise _http.PebbleError(400, "cannot decode request body: services must be a list")
        if not isinstance(signame, str):
            raise _http.PebbleError(400, "cannot decode request body: signal must be a string")
        if not names:
            raise _http.PebbleError(400, "must specify one or more services")
        try:
            result = services().send_signal(names, signame)
            if inspect.isawaitable(result):
                await result
        except _http.PebbleError:
            raise
        except (ValueError, LookupError, OSError, RuntimeError) as exc:
            raise _http.PebbleError(500, str(exc)) from exc
        return _http.sync_response(True)

    router.add("/v1/system-info", {"GET": system_info}, open=True)
    router.add("/v1/identities", {"GET": identities.get, "POST": identities.post}, user=("GET",))
    router.add("/v1/signals", {"POST": signals})


class Identities:
    """Named identities (`local` by uid, `basic`, `cert`) with their access level."""

    def __init__(self) -> None:
        self._identities: dict[str, dict[str, Any]] = {}

    def load(self, path: Path) -> None:
        """Replace from an identities file (`identities:` mapping), as `run --identities`."""
        data = yaml.safe_load(path.read_text())
        found = data.get("identities") if isinstance(data, dict) else None
        if not isinstance(found, dict) or not found:
            raise ValueError('no identities to add; did you forget the top-level "identities" key?')
        self.apply("replace", found)

    async def get(self, _request: _http.Request) -> _http.Response:
        return _http.sync_response({name: _shown(i) for name, i in self._identities.items()})

    async def post(self, request: _http.Request) -> _http.Response:
        body = request.json_object()
        given = body.get("identities") or {}
        if not isinstance(given, dict):
            raise _http.PebbleError(400, "cannot decode request body: identities must be a map")
        try:
            self.apply(str(body.get("action") or ""), given)
        except ValueError as exc:
            raise _http.PebbleError(400, str(exc)) from None
        return _http.sync_response(None)

    def apply(self, action: str, given: Mapping[str, Any]) -> None:
        """Pebble's add/update/replace/remove; ValueError with its message."""
        for name, identity in given.items():
            if identity is not None:
                try:
                    _validate(name, identity)
                except ValueError as exc:
                    raise ValueError(f"invalid identity for {_q(name)}: {exc}") from None
        present = sorted(n for n in given if n in self._identities)
        missing = sorted(n for n in given if n not in self._identities)
        nulls = [n for n, i in given.items() if i is None]
        if action in ("add", "update") and nulls:
            raise ValueError(
                f"identity value for {_q(nulls[0])} must not be null for {action} operation"
            )
        if action == "remove" and len(nulls) != len(given):
            other = next(n for n, i in given.items() if i is not None)
            raise ValueError(f"identity value for {_q(other)} must be null for remove operation")
        if action == "add" and present:
            raise ValueError(f"identities already exist: {', '.join(present)}")
        if action in ("update", "remove") and missing:
            raise ValueError(f"identities do not exist: {', '.join(missing)}")
        if action not in ("add", "update", "replace", "remove"):
            raise ValueError(
                f'invalid action {_q(action)}, must be "add", "update", "replace", or "remove"'
            )
        updated = dict(self._identities)
        for name, identity in given.items():
            if identity is None:
                updated.pop(name, None)
            else:
                updated[name] = dict(identity)
        _unique_uids(updated)
        self._identities = updated


def _q(text: str) -> str:
    return _gotext.go_quote(text)


def _validate(name: str, identity: Any) -> None:
    if not isinstance(identity, dict):
        raise ValueError("identity must be an object")
    if not _NAME.match(name):
        raise ValueError(
            f"identity name {_q(name)} invalid: must start with an alphabetic character and "
            "only contain alphanumeric characters, underscore, and hyphen"
        )
    access = identity.get("access") or ""
    if not access:
        raise ValueError(
            'access value must be specified ("admin", "read", "metrics", or "untrusted")'
        )
    if access not in _ACCESS:
        raise ValueError(
            f'invalid access value {_q(str(access))}, must be "admin", "read", "metrics", or '
            '"untrusted"'
        )
    local, basic, cert = identity.get("local"), identity.get("basic"), identity.get("cert")
    if local is not None and not isinstance((local or {}).get("user-id"), int):
        raise ValueError("local identity must specify user-id")
    if basic is not None and not (basic or {}).get("password"):
        raise ValueError("basic identity must specify password (hashed)")
    if cert is not None and "-----BEGIN CERTIFICATE-----" not in str((cert or {}).get("pem")):
        raise ValueError("cert identity must include a PEM-encoded certificate")
    if local is None and basic is None and cert is None:
        raise ValueError('identity must have at least one type ("local", "basic", or "cert")')


def _unique_uids(identities: Mapping[str, Mapping[str, Any]]) -> None:
    by_uid: dict[int, list[str]] = {}
    for name, identity in identities.items():
        if identity.get("local") is not None:
            by_uid.setdefault(identity["local"]["user-id"], []).append(name)
    for uid, names in sorted(by_uid.items()):
        if len(names) > 1:
            raise ValueError(
                f"cannot have multiple identities with user ID {uid} ({', '.join(sorted(names))})"
            )


def _shown(identity: Mapping[str, Any]) -> dict[str, Any]:
    """An identity as the API shows it: secrets masked."""
    shown: dict[str, Any] = {"access": identity["access"]}
    if identity.get("local") is not None:
        shown["local"] = {"user-id": identity["local"]["user-id"]}
    if identity.get("basic") is not None:
        shown["basic"] = {"password": "*****"}
    if identity.get("cert") is not None:
        shown["cert"] = {"pem": "*****"}
    return shown
