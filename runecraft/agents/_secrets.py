"""The secrets one hook sees: the remote state's secrets with not-yet-acknowledged and
this hook's own buffered changes folded in (pure; used by the hook context and its tools).

The same `apply` folds a pending commit's `SecretOp`s and a tool call's op, so what a hook
sees after `secret-add`/`secret-set` is what the controller will store once it commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from runecraft.schemas import secrets as sec
from runecraft.schemas.names import unit_tag

__all__ = ["SecretView", "apply", "by_label", "views"]


@dataclass(kw_only=True)
class SecretView:
    """One secret as the running hook sees it (mutable copy of a `SecretRemote`)."""

    id: str
    owner: str
    owned: bool
    manage: bool
    label: str = ""
    description: str = ""
    expire: str | None = None
    rotate: str = ""
    rotates: str | None = None
    revision: int = 1
    content: dict[str, str] = field(default_factory=dict)
    tracked: int = 0
    tracked_content: dict[str, str] | None = None
    access: list[sec.SecretAccess] = field(default_factory=list)

    def tracked_value(self) -> dict[str, str]:
        """Content of the tracked revision (the latest when it is the one tracked)."""
        if self.tracked_content is not None and self.tracked != self.revision:
            return dict(self.tracked_content)
        return dict(self.content)


def _view(remote: sec.SecretRemote) -> SecretView:
    return SecretView(
        id=remote.id,
        owner=remote.owner,
        owned=remote.owned,
        manage=remote.manage,
        label=remote.label,
        description=remote.description,
        expire=remote.expire,
        rotate=remote.rotate,
        rotates=remote.rotates,
        revision=remote.revision,
        content=dict(remote.content),
        tracked=remote.tracked,
        tracked_content=None if remote.tracked_content is None else dict(remote.tracked_content),
        access=list(remote.access),
    )


def views(
    remote: Iterable[sec.SecretRemote], pending: Iterable[sec.SecretOp], *, unit: str
) -> dict[str, SecretView]:
    """The remote secrets by id, with the ops of unacknowledged commits applied."""
    found = {secret.id: _view(secret) for secret in remote}
    for op in pending:
        apply(found, op, unit=unit)
    return found


def apply(found: dict[str, SecretView], op: sec.SecretOp, *, unit: str) -> None:
    """Fold one op into the views (the controller applies the same op to its rows)."""
    view = found.get(op.id)
    if op.op == "add":
        found[op.id] = SecretView(
            id=op.id,
            owner=op.owner or "application",
            owned=True,
            manage=True,
            label=op.label or "",
            description=op.description or "",
            expire=op.expire,
            rotate=op.rotate or "",
            revision=1,
            content=dict(op.content or {}),
            tracked=1,
        )
        return
    if view is None:
        return
    if op.op == "set":
        _set_meta(view, op)
        if op.content is not None and op.content != view.content:
            view.revision += 1
            view.content = dict(op.content)
            view.tracked = view.revision
    elif op.op == "track":
        if op.revision is not None:
            view.tracked = op.revision
            view.tracked_content = None
        if op.label is not None:
            view.label = op.label
    elif op.op == "grant":
        target = unit_tag(op.unit) if op.unit else f"application-{op.app}"
        access = sec.SecretAccess(target=target, scope=f"relation-{op.relation_id}")
        if access not in view.access:
            view.access.append(access)
    elif op.op == "revoke":
        view.access = [a for a in view.access if not _revoked(a, op)]
    elif op.op == "remove" and op.revision is None:
        del found[op.id]


def _set_meta(view: SecretView, op: sec.SecretOp) -> None:
    changes: dict[str, object] = {}
    for name in ("label", "description", "expire", "rotate"):
        value = getattr(op, name)
        if value is not None:
            changes[name] = value
    for name, value in changes.items():
        setattr(view, name, value)


def _revoked(access: sec.SecretAccess, op: sec.SecretOp) -> bool:
    if op.relation_id is not None and access.scope != f"relation-{op.relation_id}":
        return False
    if op.unit:
        return access.target == unit_tag(op.unit)
    if op.app:
        return access.target == f"application-{op.app}"
    return op.relation_id is not None


def by_label(found: Mapping[str, SecretView], label: str) -> SecretView | None:
    """The secret this unit knows by `label` (owner label or consumer label)."""
    return next((view for view in found.values() if view.label == label), None)
