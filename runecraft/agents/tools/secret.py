"""Secret tools: `secret-add/get/set/info-get/ids/grant/revoke/remove` (charm-contract §4.3).

Reads answer from the hook's secret views (`_secrets`); every change is buffered in the
context as a `SecretOp` and committed with the hook, so a failed hook stores nothing.
Owners always read the latest revision; consumers read the revision they track (their first
read, or `--refresh`, tracks the latest). Errors carry Juju's words: `not found` (ops raises
`SecretNotFoundError`), `this unit is not the leader`, `permission denied`.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any, Literal

from runecraft import errors
from runecraft.agents import _context, _secrets, _toolargs
from runecraft.agents.tools._registry import (
    NOT_LEADER,
    ToolCall,
    bool_flag,
    no_more,
    read_settings_file,
    relation_id,
    tool,
)
from runecraft.schemas import secrets as sec

__all__ = ["parse_content"]

_PERMISSION_DENIED = "permission denied"


def _string(*names: str, help: str) -> _toolargs.Flag:
    return _toolargs.Flag(names=names, default=None, help=help)


_META_FLAGS = (
    _string("label", help="a label used to identify the secret in hooks"),
    _string("description", help="the secret description"),
    _string("expire", help="either a duration or time when the secret should expire"),
    _string("rotate", help="the secret rotation policy"),
    _toolargs.Flag(
        names=("owner",), default="application", help="the owner of the secret: application|unit"
    ),
    _string("file", help="a YAML file containing secret key values"),
)


def parse_content(call: ToolCall, args: tuple[str, ...]) -> dict[str, str]:
    """`key=value`, `key#base64=value` and `key#file=PATH` arguments (Juju's
    `secrets.CreateSecretData`); values are stored decoded."""
    content: dict[str, str] = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or not key:
            raise errors.UsageError(f'key value "{arg}" not valid')
        name, _, suffix = key.partition("#")
        try:
            if suffix == "base64":
                value = base64.b64decode(value, validate=True).decode()
            elif suffix == "file":
                value = call.read(value).decode()
            elif suffix:
                raise errors.UsageError(f'key value "{arg}" not valid')
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise errors.UsageError(f'invalid base64 value for key "{name}": {exc}') from exc
        except OSError as exc:
            raise errors.UsageError(f'cannot read content file for key "{name}": {exc}') from exc
        if name in content:
            raise errors.UsageError(f'duplicate key "{name}"')
        content[name] = value
    return content


def _meta(call: ToolCall) -> dict[str, Any]:
    """The metadata flags given, validated; absent ones are left out."""
    meta: dict[str, Any] = {}
    for name in ("label", "description"):
        if call.flag(name) is not None:
            meta[name] = str(call.flag(name))
    expire = call.flag("expire")
    if expire is not None:
        try:
            meta["expire"] = sec.parse_expire(str(expire), time.time())
        except ValueError as exc:
            raise errors.UsageError(str(exc)) from None
    rotate = call.flag("rotate")
    if rotate is not None:
        if rotate not in sec.ROTATE_POLICIES:
            raise errors.UsageError(f'invalid secret rotate policy "{rotate}"')
        meta["rotate"] = str(rotate)
    owner = call.flag("owner")
    if owner not in ("application", "unit"):
        raise errors.UsageError(f'secret owner "{owner}" not valid')
    return meta


def _file_content(call: ToolCall) -> dict[str, str]:
    path = call.flag("file")
    if path is None:
        return {}
    try:
        return read_settings_file(call.read(str(path)))
    except OSError as exc:
        raise errors.UsageError(str(exc)) from None


def _checked(content: dict[str, str]) -> dict[str, str]:
    try:
        sec.validate_content(content)
    except ValueError as exc:
        raise errors.UsageError(str(exc)) from None
    return content


def _secret_id(text: str) -> str:
    try:
        return sec.parse_secret_uri(text)
    except ValueError as exc:
        raise errors.UsageError(str(exc)) from None


def _not_found(secret_id: str) -> errors.NotFoundError:
    return errors.NotFoundError(f'secret "{secret_id}" not found')


def _find(ctx: _context.HookContext, uri: str | None, label: str | None) -> _secrets.SecretView:
    """The secret named by id (preferred) or label, or Juju's `not found`."""
    if uri:
        secret_id = _secret_id(uri)
        view = ctx.secrets.get(secret_id)
        if view is None:
            raise _not_found(secret_id)
        return view
    if label:
        found = _secrets.by_label(ctx.secrets, label)
        if found is None:
            raise errors.NotFoundError(f'secret with label "{label}" not found')
        return found
    raise errors.UsageError("require either a secret URI or label")


def _managed(ctx: _context.HookContext, uri: str) -> _secrets.SecretView:
    """A secret this unit may change: owner unit, or leader of the owning application."""
    view = _find(ctx, uri, None)
    if not view.owned:
        raise errors.PermissionDeniedError(_PERMISSION_DENIED)
    if view.owner == "application" and not ctx.leader:
        raise errors.PermissionDeniedError(NOT_LEADER)
    if not view.manage and view.owner == "unit":
        raise errors.PermissionDeniedError(_PERMISSION_DENIED)
    return view


@tool("secret-add", args="[key[#base64|#file]=value...]", flags=_META_FLAGS, output="smart")
async def _secret_add(ctx: _context.HookContext, call: ToolCall) -> str:
    """Add a new secret."""
    meta = _meta(call)
    content = _checked({**_file_content(call), **parse_content(call, call.args)})
    owner = str(call.flag("owner"))
    if owner == "application" and not ctx.leader:
        raise errors.PermissionDeniedError(NOT_LEADER)
    label = meta.get("label")
    if label and any(v.manage and v.label == label for v in ctx.secrets.values()):
        raise errors.ConflictError(f'secret with label "{label}" already exists')
    secret_id = sec.new_secret_id()
    ctx.secret_op(sec.SecretOp(op="add", id=secret_id, owner=owner, content=content, **meta))
    return sec.secret_uri(secret_id)


@tool("secret-set", args="<ID> [key[#base64|#file]=value...]", flags=_META_FLAGS)
async def _secret_set(ctx: _context.HookContext, call: ToolCall) -> None:
    """Update an existing secret."""
    if not call.args:
        raise errors.UsageError("missing secret URI")
    meta = _meta(call)
    pairs = {**_file_content(call), **parse_content(call, call.args[1:])}
    content = _checked(pairs) if pairs else None
    view = _managed(ctx, call.args[0])
    label = meta.get("label")
    if label and any(
        v.manage and v.label == label and v.id != view.id for v in ctx.secrets.values()
    ):
        raise errors.ConflictError(f'secret with label "{label}" already exists')
    ctx.secret_op(sec.SecretOp(op="set", id=view.id, content=content, **meta))


@tool(
    "secret-get",
    args="<ID> [key[#base64]]",
    flags=(
        _string("label", help="a label used to identify the secret in hooks"),
        bool_flag("peek", help="get the latest revision just this time"),
        bool_flag(
            "refresh",
            help="get the latest revision and also get this same revision for subsequent calls",
        ),
    ),
    output="yaml",
)
async def _secret_get(ctx: _context.HookContext, call: ToolCall) -> Any:
    """Get the content of a secret."""
    uri = call.args[0] if call.args else None
    key = call.args[1] if len(call.args) > 1 else None
    no_more(call.args[2:])
    peek, refresh = bool(call.flag("peek")), bool(call.flag("refresh"))
    if peek and refresh:
        raise errors.UsageError("specify one of --peek or --refresh but not both")
    label = call.flag("label")
    view = _find(ctx, uri, None if uri else label)
    if uri and label is not None and label != view.label:
        if view.owned and not view.manage:
            raise errors.PermissionDeniedError(NOT_LEADER)
        if view.owned:
            ctx.secret_op(sec.SecretOp(op="set", id=view.id, label=str(label)))
        else:
            ctx.secret_op(sec.SecretOp(op="track", id=view.id, label=str(label)))
    if view.owned or peek:
        content = dict(view.content)
    elif refresh or view.tracked == 0:
        if view.tracked != view.revision:
            ctx.secret_op(sec.SecretOp(op="track", id=view.id, revision=view.revision))
        content = dict(view.content)
    else:
        content = view.tracked_value()
    if key is None:
        return content
    name, _, suffix = key.partition("#")
    if name not in content:
        raise errors.NotFoundError(f'secret key "{name}" not found')
    if suffix == "base64":
        return base64.b64encode(content[name].encode()).decode()
    return content[name]


@tool(
    "secret-info-get",
    args="<ID>",
    flags=(_string("label", help="a label used to identify the secret"),),
    output="yaml",
)
async def _secret_info_get(ctx: _context.HookContext, call: ToolCall) -> Any:
    """Get a secret's metadata info."""
    label = call.flag("label")
    uri = call.optional_arg(None)
    if uri and label is not None:
        raise errors.UsageError("specify either a secret URI or label but not both")
    view = _find(ctx, uri, label)
    if not view.owned:
        raise _not_found(view.id)
    info: dict[str, Any] = {
        "revision": view.revision,
        "label": view.label,
        "owner": view.owner,
        "rotation": view.rotate or "never",
    }
    if view.description:
        info["description"] = view.description
    if view.expire:
        info["expiry"] = view.expire
    if view.rotates:
        info["rotates"] = view.rotates
    if view.access and view.manage:
        info["access"] = [a.model_dump() for a in view.access]
    return {view.id: info}


@tool("secret-ids", output="yaml")
async def _secret_ids(ctx: _context.HookContext, call: ToolCall) -> list[str]:
    """Print secret IDs."""
    no_more(call.args)
    return sorted(v.id for v in ctx.secrets.values() if v.owned)


@tool(
    "secret-grant",
    args="<ID>",
    flags=(
        _toolargs.Flag(
            names=("r", "relation"),
            default=None,
            help="the relation with which to associate the grant",
        ),
        _string("unit", help="the unit to grant access"),
    ),
)
async def _secret_grant(ctx: _context.HookContext, call: ToolCall) -> None:
    """Grant access to a secret."""
    uri = call.only_arg(missing="missing secret URI")
    relation = relation_id(ctx, call)
    if relation is None:
        raise errors.UsageError("missing relation")
    view = _managed(ctx, uri)
    remote = ctx.relation_view(relation)
    unit = call.flag("unit")
    if unit is not None and str(unit).partition("/")[0] != remote.remote_app:
        raise errors.UsageError(f'unit "{unit}" is not in relation {remote.name}')
    _access(
        ctx, "grant", view, relation, app=None if unit is not None else remote.remote_app, unit=unit
    )


@tool(
    "secret-revoke",
    args="<ID>",
    flags=(
        _toolargs.Flag(
            names=("r", "relation"), default=None, help="the relation for which to revoke the grant"
        ),
        _string("app", help="the application to revoke access"),
        _string("unit", help="the unit to revoke access"),
    ),
)
async def _secret_revoke(ctx: _context.HookContext, call: ToolCall) -> None:
    """Revoke access to a secret."""
    uri = call.only_arg(missing="missing secret URI")
    relation = relation_id(ctx, call) if call.flag("relation") is not None else None
    app, unit = call.flag("app"), call.flag("unit")
    if relation is None and app is None and unit is None:
        raise errors.UsageError("missing relation or application or unit")
    view = _managed(ctx, uri)
    _access(ctx, "revoke", view, relation, app=app, unit=unit)


def _access(
    ctx: _context.HookContext,
    op: Literal["grant", "revoke"],
    view: _secrets.SecretView,
    relation: int | None,
    *,
    app: object,
    unit: object,
) -> None:
    """Buffer a grant or revoke for a relation, narrowed to an application or one unit."""
    grantee = {"app": app, "unit": unit}
    named = {key: None if value is None else str(value) for key, value in grantee.items()}
    ctx.secret_op(
        sec.SecretOp(op=op, id=view.id, relation_id=relation, app=named["app"], unit=named["unit"])
    )


@tool(
    "secret-remove", args="<ID>", flags=(_string("revision", help="remove the specified revision"),)
)
async def _secret_remove(ctx: _context.HookContext, call: ToolCall) -> None:
    """Remove an existing secret."""
    uri = call.only_arg(missing="missing secret URI")
    revision: int | None = None
    if call.flag("revision") is not None:
        try:
            revision = int(call.flag("revision"))
        except ValueError:
            raise errors.UsageError(f'invalid revision "{call.flag("revision")}"') from None
        if revision < 1:
            raise errors.UsageError(f'invalid revision "{revision}"')
    view = _managed(ctx, uri)
    if revision is not None and revision > view.revision:
        raise errors.NotFoundError(f'secret revision "{view.id}/{revision}" not found')
    ctx.secret_op(sec.SecretOp(op="remove", id=view.id, revision=revision))
