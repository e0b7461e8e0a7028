"""Pure planning of what secrets each unit sees (the `secrets` of its `UnitRemoteState`).

A unit sees a secret its application (or, for a unit secret, itself) owns, and one granted
to its application or to it — over a relation that still exists, or model-wide for user
secrets. Owners read the latest revision; a consumer gets the latest revision (to notice
changes) and the content of the one it tracks. Managing units (owner unit, leader of the
owning application) also get the grants and the obsolete revisions: older ones no existing
unit tracks, each of which gets `secret-remove`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from runecraft.controller.state import USER_GRANT, ApplicationRecord, SecretRows, UnitRecord
from runecraft.schemas import secrets as sec

__all__ = ["SecretIndex", "unit_secrets"]


class SecretIndex:
    """One model's secret rows indexed for building every unit's view at once."""

    def __init__(
        self, rows: SecretRows, relation_ids: Iterable[int], units: Iterable[str], model_uuid: str
    ) -> None:
        self.secrets = list(rows.secrets)
        self.model_uuid = model_uuid
        self.relation_ids = set(relation_ids)
        unit_names = set(units)
        self.content = {(r.secret_id, r.revision): r.content for r in rows.revisions}
        self.revisions: dict[str, list[int]] = defaultdict(list)
        for r in rows.revisions:
            self.revisions[r.secret_id].append(r.revision)
        self.consumers = {(c.secret_id, c.unit): c for c in rows.consumers}
        self.tracked: dict[str, set[int]] = defaultdict(set)
        for c in rows.consumers:
            if c.unit in unit_names and c.revision:
                self.tracked[c.secret_id].add(c.revision)
        self.grants: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
        for g in rows.grants:
            if g.relation_id == USER_GRANT or g.relation_id in self.relation_ids:
                self.grants[g.secret_id].append((g.subject_kind, g.subject, g.relation_id))

    def access(self, secret_id: str) -> tuple[sec.SecretAccess, ...]:
        """The grants of a secret, as `secret-info-get` and `show-secret` list them."""
        return tuple(
            sec.SecretAccess(
                target=f"{kind}-{subject.replace('/', '-')}",
                scope=(
                    f"model-{self.model_uuid}"
                    if relation_id == USER_GRANT
                    else f"relation-{relation_id}"
                ),
            )
            for kind, subject, relation_id in sorted(self.grants.get(secret_id, ()))
        )


def unit_secrets(
    index: SecretIndex, unit: UnitRecord, app: ApplicationRecord
) -> tuple[sec.SecretRemote, ...]:
    """Every secret `unit` may read, as it sees it."""
    views = []
    for secret in index.secrets:
        owner = (secret.owner_kind, secret.owner)
        owned = owner in (("application", app.name), ("unit", unit.name))
        granted = any(
            (kind, subject) in (("application", app.name), ("unit", unit.name))
            for kind, subject, _ in index.grants.get(secret.id, ())
        )
        if not (owned or granted):
            continue
        manage = owner == ("unit", unit.name) or (
            owner == ("application", app.name) and app.leader == unit.name
        )
        consumer = index.consumers.get((secret.id, unit.name))
        tracked = secret.revision if owned else (consumer.revision if consumer else 0)
        tracked_content = None
        if tracked and tracked != secret.revision:
            tracked_content = index.content.get((secret.id, tracked))
        obsolete: tuple[int, ...] = ()
        if manage:
            keep = index.tracked.get(secret.id, set()) | {secret.revision}
            obsolete = tuple(r for r in index.revisions.get(secret.id, ()) if r not in keep)
        views.append(
            sec.SecretRemote(
                id=secret.id,
                owner="model" if secret.owner_kind == "model" else secret.owner_kind,
                owned=owned,
                manage=manage,
                label=secret.label if owned else (consumer.label if consumer else ""),
                description=secret.description if owned else "",
                expire=secret.expire if owned else None,
                rotate=secret.rotate if owned else "",
                rotates=(sec.format_time(secret.rotates) if owned and secret.rotates else None),
                revision=secret.revision,
                content=dict(index.content.get((secret.id, secret.revision), {})),
                tracked=tracked,
                tracked_content=None if tracked_content is None else dict(tracked_content),
                access=index.access(secret.id) if manage else (),
                obsolete=obsolete,
            )
        )
    return tuple(views)
