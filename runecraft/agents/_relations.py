"""Relations as one unit tracks them, and which relation hook runs next (pure).

A unit keeps a `RelationState` per relation it created (entered scope of): the remote units
it has joined with the settings version it last ran a hook for, the remote application
bag's version it last saw, a `-changed` owed after a `-joined`, and whether it broke the
relation. Comparing that with a `bus.RelationRemote` gives the next hook, in the order of
Juju's `nextHookForRelation` (`internal/worker/uniter/relation/resolver.go`):

1. the `-changed` owed for the unit just joined (a `-joined` for X is always followed by a
   `-changed` for X before any other hook of that relation);
2. `-departed` for each known unit no longer in scope (sorted by name);
3. `-broken` when the relation is dying (never for peers), or when the unit is dying;
4. an app-level `-changed` (empty `JUJU_REMOTE_UNIT`) when the remote app bag's version
   moved (version 0, never written, is ignored);
5. `-joined` for each new unit (sorted by name);
6. `-changed` for each unit whose settings version moved.

Relations are visited in id order; several writes between two looks give one `-changed`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from runecraft.schemas import bus

__all__ = [
    "RelationHook",
    "RelationState",
    "await_app_ack",
    "commit",
    "next_created",
    "next_hook",
    "observe",
]


@dataclass(frozen=True, kw_only=True)
class RelationState:
    """One relation the unit has created (and so entered the scope of)."""

    id: int
    endpoint: str
    remote_app: str
    peer: bool = False
    members: Mapping[str, int] = field(default_factory=dict)
    """Remote units joined → the settings version the last hook for them ran with."""
    app_version: int = 0
    """The remote application bag's version last seen (0: never written)."""
    changed_pending: str = ""
    """A unit whose `-joined` ran and whose `-changed` must run next."""
    broken: bool = False
    """`-broken` ran (scope left); kept until the controller forgets the relation."""
    app_ack_seq: int = 0
    """Peer relations: the commit seq that wrote the own app bag, until a snapshot
    acknowledges it; its resulting version is then marked seen."""


@dataclass(frozen=True, kw_only=True)
class RelationHook:
    """A relation hook to run, with what its environment and commit need."""

    relation_id: int
    endpoint: str
    event: str
    """`created`, `joined`, `changed`, `departed` or `broken`."""
    remote_app: str
    peer: bool = False
    remote_unit: str = ""
    departing_unit: str = ""
    version: int = 0


def _remote_by_id(remote: bus.UnitRemoteState) -> dict[int, bus.RelationRemote]:
    return {relation.id: relation for relation in remote.relations}


def _hook(state: RelationState, event: str, **details: str | int) -> RelationHook:
    return RelationHook(
        relation_id=state.id,
        endpoint=state.endpoint,
        event=event,
        remote_app=state.remote_app,
        peer=state.peer,
        remote_unit=str(details.get("remote_unit", "")),
        departing_unit=str(details.get("departing_unit", "")),
        version=int(details.get("version", 0)),
    )


def next_created(
    relations: Mapping[int, RelationState], remote: bus.UnitRemoteState
) -> RelationHook | None:
    """`-relation-created` for the first alive relation the unit has not created yet."""
    for relation in sorted(remote.relations, key=lambda r: r.id):
        if relation.life == "alive" and relation.id not in relations:
            return RelationHook(
                relation_id=relation.id,
                endpoint=relation.endpoint,
                event="created",
                remote_app=relation.remote_application,
                peer=relation.role == "peer",
            )
    return None


def _next_for(
    state: RelationState,
    relation: bus.RelationRemote | None,
    *,
    unit: str,
    teardown: bool,
) -> RelationHook | None:
    """Juju's `nextHookForRelation` for one relation."""
    if state.changed_pending:
        pending = state.changed_pending
        version = relation.units.get(pending, 0) if relation is not None else 0
        return _hook(state, "changed", remote_unit=pending, version=version)
    breaking = teardown or relation is None or relation.life == "dying"
    units: Mapping[str, int] = {}
    if not breaking and relation is not None:
        units = {name: version for name, version in relation.units.items() if name != unit}
    for name in sorted(state.members):
        if name not in units:
            departing = unit if teardown else name
            return _hook(
                state,
                "departed",
                remote_unit=name,
                departing_unit=departing,
                version=state.members[name],
            )
    if breaking:
        # Peer relations end only with the unit, never by removal.
        return _hook(state, "broken") if teardown or not state.peer else None
    assert relation is not None
    if relation.app_version > 0 and relation.app_version != state.app_version:
        return _hook(state, "changed", version=relation.app_version)
    for name in sorted(units):
        if name not in state.members:
            return _hook(state, "joined", remote_unit=name, version=units[name])
    for name in sorted(units):
        if state.members[name] != units[name]:
            return _hook(state, "changed", remote_unit=name, version=units[name])
    return None


def _live(relations: Mapping[int, RelationState]) -> list[RelationState]:
    return [relations[key] for key in sorted(relations) if not relations[key].broken]


def next_hook(
    relations: Mapping[int, RelationState], remote: bus.UnitRemoteState, *, teardown: bool
) -> RelationHook | None:
    """The next relation hook, or None when every relation is in step.

    In `teardown` (a dying unit) every known unit departs, then each relation breaks,
    relation by relation (peers too).
    """
    by_id = _remote_by_id(remote)
    for state in _live(relations):
        hook = _next_for(state, by_id.get(state.id), unit=remote.unit, teardown=teardown)
        if hook is not None:
            return hook
    return None


def commit(relations: Mapping[int, RelationState], hook: RelationHook) -> dict[int, RelationState]:
    """The relation states after `hook` succeeded (or was skipped by a resolve)."""
    updated = dict(relations)
    if hook.event == "created":
        updated[hook.relation_id] = RelationState(
            id=hook.relation_id, endpoint=hook.endpoint, remote_app=hook.remote_app, peer=hook.peer
        )
        return updated
    state = relations.get(hook.relation_id)
    if state is None:
        return updated
    members = dict(state.members)
    if hook.event == "joined":
        members[hook.remote_unit] = hook.version
        state = dataclasses.replace(state, members=members, changed_pending=hook.remote_unit)
    elif hook.event == "changed" and hook.remote_unit:
        members[hook.remote_unit] = hook.version
        pending = "" if state.changed_pending == hook.remote_unit else state.changed_pending
        state = dataclasses.replace(state, members=members, changed_pending=pending)
    elif hook.event == "changed":
        state = dataclasses.replace(state, app_version=hook.version)
    elif hook.event == "departed":
        members.pop(hook.remote_unit, None)
        state = dataclasses.replace(state, members=members)
    elif hook.event == "broken":
        state = dataclasses.replace(state, members={}, changed_pending="", broken=True)
    updated[hook.relation_id] = state
    return updated


def await_app_ack(
    relations: Mapping[int, RelationState], written: Iterable[int], seq: int
) -> dict[int, RelationState]:
    """Peer relations whose own app bag commit `seq` wrote wait for its acknowledgement."""
    updated = dict(relations)
    for relation_id in written:
        state = updated.get(relation_id)
        if state is not None and state.peer and not state.broken:
            updated[relation_id] = dataclasses.replace(state, app_ack_seq=seq)
    return updated


def observe(
    relations: Mapping[int, RelationState], remote: bus.UnitRemoteState
) -> Mapping[int, RelationState]:
    """Absorb acknowledged own peer app writes; forget broken relations the controller dropped.

    Returns `relations` itself when nothing changed.
    """
    by_id = _remote_by_id(remote)
    updated: dict[int, RelationState] = {}
    changed = False
    for relation_id, state in relations.items():
        relation = by_id.get(relation_id)
        if state.broken and relation is None:
            changed = True
            continue
        if state.app_ack_seq and remote.commit_seq >= state.app_ack_seq:
            version = relation.app_version if relation is not None else state.app_version
            updated[relation_id] = dataclasses.replace(state, app_version=version, app_ack_seq=0)
            changed = True
        else:
            updated[relation_id] = state
    return updated if changed else relations
