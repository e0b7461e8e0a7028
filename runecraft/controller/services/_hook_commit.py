"""A hook commit, applied exactly once: pure rules decide its writes, then one applier
makes them (docs/runtime-contract.md, "Hook commits").

Only the next commit of a unit applies (`seq == commit_seq + 1`): a replay is dropped, and
one past a gap waits until the agent resends the missing ones. The rules read the stored
facts the commit touches (`CommitFacts`) and return a `CommitPlan`: the writes, in the
contract's order (scope changes, relation writes, secrets, storage, the action outcome,
then the unit's charm state, ports and `commit_seq`), and the parts refused, each an error
naming the part and why. A refused part is logged and skipped; the rest of the commit
applies, so one bad part cannot hold a unit's later commits back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import structlog

from runecraft import errors
from runecraft.controller.services import _secret_rules as secret_rules
from runecraft.controller.services._ports import (
    WithActions,
    WithApplications,
    WithCharms,
    WithMachines,
    WithRelations,
    WithSecrets,
    WithStorage,
    WithUnits,
)
from runecraft.controller.services._secrets import write_secrets
from runecraft.controller.state import (
    ActionRecord,
    ApplicationRecord,
    DatabagRecord,
    UnitKey,
    UnitRecord,
)
from runecraft.schemas import bus
from runecraft.schemas import charm as charm_schema
from runecraft.schemas import storage as storage_schema

__all__ = [
    "AddStorage",
    "BatchReads",
    "CommitFacts",
    "CommitPlan",
    "EnterScope",
    "FinishAction",
    "HookCommitState",
    "LeaveScope",
    "Refusal",
    "SaveBag",
    "StorageFacts",
    "UpdateUnit",
    "apply_hook_commit",
    "plan_commit",
    "read_facts",
    "sequence_verdict",
]

logger = structlog.get_logger(__name__)


class HookCommitState(
    WithUnits,
    WithApplications,
    WithRelations,
    WithMachines,
    WithActions,
    WithCharms,
    WithStorage,
    WithSecrets,
    Protocol,
):
    """What applying a hook commit (and the agents' other messages) reads and writes (the
    store's `Tx` is one)."""

    def changed(self, entity: str, kind: str, model_uuid: str | None = None) -> None: ...


# --- the facts and the writes -----------------------------------------------------------


@dataclass(frozen=True)
class StorageFacts:
    """The charm's storage, what the unit has, and the application's directives."""

    declared: Mapping[str, charm_schema.StorageSpec]
    have: Mapping[str, int]
    directives: Mapping[str, tuple[int, int]]


@dataclass(frozen=True)
class CommitFacts:
    """What is stored that a commit's rules look at; parts the commit does not have are
    left empty."""

    model_uuid: str
    unit: UnitRecord
    app: ApplicationRecord
    relations: Mapping[int, frozenset[str]]
    """Every relation of the model, with the applications on it."""
    in_scope: frozenset[int]
    address: str = ""
    bags: Mapping[tuple[int, str, str], DatabagRecord] = field(default_factory=dict)
    """(relation id, owner kind, owner) → the unit's and its application's stored bags."""
    secrets: Mapping[str, secret_rules.SecretView] = field(default_factory=dict)
    storage: StorageFacts | None = None
    action: ActionRecord | None = None


@dataclass(frozen=True, slots=True)
class EnterScope:
    relation_id: int


@dataclass(frozen=True, slots=True)
class LeaveScope:
    relation_id: int


@dataclass(frozen=True, slots=True)
class SaveBag:
    """A bag's new content and version; `new` inserts it."""

    bag: DatabagRecord
    new: bool


@dataclass(frozen=True, slots=True)
class AddStorage:
    name: str
    count: int
    kind: str
    size_mib: int


@dataclass(frozen=True, slots=True)
class FinishAction:
    action_id: int
    values: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class UpdateUnit:
    """`commit_seq`, and charm state and ports where they changed."""

    values: Mapping[str, Any]


CommitWrite = (
    EnterScope
    | LeaveScope
    | SaveBag
    | AddStorage
    | FinishAction
    | UpdateUnit
    | secret_rules.SecretWrite
)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A part of the commit that does not hold: `field` names it (`scope[3]`,
    `relations[3].app`, `secrets[0]`, `storage_add[data]`, `action`)."""

    field: str
    error: errors.RunecraftError


@dataclass(frozen=True)
class CommitPlan:
    writes: tuple[CommitWrite, ...]
    refused: tuple[Refusal, ...] = ()


# --- the rules --------------------------------------------------------------------------


def sequence_verdict(stored: int, seq: int) -> Literal["apply", "duplicate", "gap"]:
    """Exactly once, in order: only the commit right after the stored one applies."""
    if seq <= stored:
        return "duplicate"
    return "apply" if seq == stored + 1 else "gap"


class _Plan:
    """The writes and refusals gathered while planning, with the bags as written so far."""

    def __init__(self, facts: CommitFacts) -> None:
        self.facts = facts
        self.writes: list[CommitWrite] = []
        self.refused: list[Refusal] = []
        self.bags = dict(facts.bags)

    def refuse(self, name: str, error: errors.RunecraftError) -> None:
        self.refused.append(Refusal(name, error))

    def merge_bag(
        self, relation_id: int, kind: str, owner: str, changes: Mapping[str, str]
    ) -> None:
        """Merge into one bag (`""` deletes); its version moves only if the content did."""
        key = (relation_id, kind, owner)
        current = self.bags.get(key)
        before = {} if current is None else dict(current.data)
        after = bus.merge_settings(before, changes)
        if after == before:
            return
        bag = DatabagRecord(
            self.facts.model_uuid,
            relation_id,
            kind,
            owner,
            after,
            1 if current is None else current.version + 1,
        )
        self.bags[key] = bag
        self.writes.append(SaveBag(bag, new=current is None))


def plan_commit(facts: CommitFacts, commit: bus.HookCommit, now: float) -> CommitPlan:
    """The writes of one commit (already checked to be the unit's next), in order."""
    plan = _Plan(facts)
    in_scope = _plan_scopes(plan, commit)
    _plan_relation_writes(plan, commit, in_scope)
    _plan_secrets(plan, commit, now)
    _plan_storage(plan, commit)
    _plan_action(plan, commit, now)
    plan.writes.append(UpdateUnit(unit_values(facts.unit, commit)))
    return CommitPlan(tuple(plan.writes), tuple(plan.refused))


def _member_of(facts: CommitFacts) -> dict[int, frozenset[str]]:
    """The relations the unit's application is on."""
    return {key: apps for key, apps in facts.relations.items() if facts.app.name in apps}


def _plan_scopes(plan: _Plan, commit: bus.HookCommit) -> set[int]:
    """Enter and leave relation scopes; entering seeds the unit's bag with its address.
    Returns the relations in scope after them."""
    facts = plan.facts
    member_of = _member_of(facts)
    in_scope = set(facts.in_scope)
    for relation_id, change in sorted(commit.scope.items()):
        if relation_id not in member_of:
            plan.refuse(
                f"scope[{relation_id}]",
                errors.NotFoundError(f'application "{facts.app.name}" is not on that relation'),
            )
        elif change == "enter" and relation_id not in in_scope:
            plan.writes.append(EnterScope(relation_id))
            in_scope.add(relation_id)
            if facts.address:
                address = {"private-address": facts.address, "ingress-address": facts.address}
                plan.merge_bag(relation_id, "unit", facts.unit.name, address)
        elif change == "leave" and relation_id in in_scope:
            plan.writes.append(LeaveScope(relation_id))
            in_scope.discard(relation_id)
    return in_scope


def _plan_relation_writes(plan: _Plan, commit: bus.HookCommit, in_scope: set[int]) -> None:
    """Unit bag merges; the application bag only from its leader. A write counts only in
    the scope as the commit's own scope changes left it."""
    unit, app = plan.facts.unit, plan.facts.app
    for relation_id, write in sorted(commit.relations.items()):
        if relation_id not in in_scope:
            plan.refuse(
                f"relations[{relation_id}]",
                errors.NotFoundError(f'unit "{unit.name}" is not in the relation\'s scope'),
            )
            continue
        if write.unit:
            plan.merge_bag(relation_id, "unit", unit.name, write.unit)
        if not write.app:
            continue
        if app.leader == unit.name:
            plan.merge_bag(relation_id, "app", app.name, write.app)
        else:
            plan.refuse(
                f"relations[{relation_id}].app",
                errors.PermissionDeniedError(
                    f'unit "{unit.name}" is not the leader: only it writes the application bag'
                ),
            )


def _plan_secrets(plan: _Plan, commit: bus.HookCommit, now: float) -> None:
    """The secret ops in order, each seeing what the ones before it did."""
    facts = plan.facts
    views: dict[str, secret_rules.SecretView | None] = dict(facts.secrets)
    relations = _member_of(facts)
    for index, op in enumerate(commit.secrets):
        try:
            view, writes = secret_rules.secret_op(
                views,
                op,
                model_uuid=facts.model_uuid,
                unit=facts.unit,
                app=facts.app,
                relations=relations,
                now=now,
            )
        except errors.RunecraftError as exc:
            plan.refuse(f"secrets[{index}]", exc)
            continue
        views[op.id] = view
        plan.writes.extend(writes)


def _plan_storage(plan: _Plan, commit: bus.HookCommit) -> None:
    """`storage-add`: what the charm's count ranges allow, at the application's sizes."""
    storage = plan.facts.storage
    if storage is None:
        return
    for name, count in sorted(commit.storage_add.items()):
        try:
            storage_schema.check_add(storage.declared, name, storage.have.get(name, 0), count)
        except errors.InvalidSpecError as exc:
            plan.refuse(f"storage_add[{name}]", exc)
            continue
        size = storage.directives.get(name, (0, storage_schema.DEFAULT_SIZE_MIB))[1]
        plan.writes.append(AddStorage(name, count, storage.declared[name].type, size))


def _plan_action(plan: _Plan, commit: bus.HookCommit, now: float) -> None:
    outcome = commit.action
    if outcome is None:
        return
    try:
        plan.writes.append(finish_action(plan.facts.action, outcome, now))
    except errors.RunecraftError as exc:
        plan.refuse("action", exc)


def finish_action(row: ActionRecord | None, outcome: bus.ActionOutcome, now: float) -> FinishAction:
    """The outcome of an unfinished action of the unit. `outcome.log`, when not empty,
    replaces the logged lines, keeping the times they were logged at.

    Raises:
        NotFoundError: no such action of the unit.
        ConflictError: the action finished already.
    """
    if row is None:
        raise errors.NotFoundError(f'action "{outcome.id}" of the unit not found')
    if row.status not in ("pending", "running"):
        raise errors.ConflictError(f'action "{outcome.id}" finished already ({row.status})')
    values: dict[str, Any] = {
        "status": outcome.status,
        "message": outcome.message,
        "results": dict(outcome.results),
        "completed": now,
        "started": row.started if row.started is not None else now,
    }
    if outcome.log:
        stamps = [entry.get("timestamp", now) for entry in row.log]
        values["log"] = [
            {"timestamp": stamps[i] if i < len(stamps) else now, "message": message}
            for i, message in enumerate(outcome.log)
        ]
    return FinishAction(row.id, values)


def unit_values(unit: UnitRecord, commit: bus.HookCommit) -> dict[str, Any]:
    """`commit_seq`, and the charm state and opened ports where the commit changed them
    (a port both opened and closed in one commit ends closed)."""
    values: dict[str, Any] = {"commit_seq": commit.seq}
    state = bus.merge_settings(unit.charm_state, commit.state_set)
    for key in commit.state_delete:
        state.pop(key, None)
    if state != unit.charm_state:
        values["charm_state"] = state
    ports = sorted((set(unit.opened_ports) | set(commit.opened_ports)) - set(commit.closed_ports))
    if ports != sorted(unit.opened_ports):
        values["opened_ports"] = ports
    return values


# --- reading the facts, making the writes -------------------------------------------------


@dataclass(eq=False)
class BatchReads:
    """What the hook commits of one batch of agent messages read once, in one transaction:
    the units they name and the scopes those units are in (all read together at the first
    commit, then kept as the commits write them), a model's relations (no agent message
    adds or removes one) and an application by id (read for its name, leader and charm,
    which no agent message changes; dropped all the same after a message that writes an
    application). A unit another message of the batch writes (leader-set, removal) is
    read again."""

    expected: Sequence[UnitKey] = ()
    """The units the batch's commits name."""
    _units: dict[UnitKey, UnitRecord | None] = field(default_factory=dict)
    _scopes: dict[tuple[str, str], set[int]] = field(default_factory=dict)
    _relations: dict[str, dict[int, frozenset[str]]] = field(default_factory=dict)
    _applications: dict[int, ApplicationRecord] = field(default_factory=dict)

    async def unit(self, tx: HookCommitState, key: UnitKey) -> UnitRecord | None:
        """The unit on that machine (None: not there)."""
        if key not in self._units:
            keys = list(dict.fromkeys([key, *(k for k in self.expected if k not in self._units)]))
            found = await tx.units.on_machines(keys)
            self._units.update({k: found.get(k) for k in keys})
        return self._units[key]

    async def scopes(self, tx: HookCommitState, model_uuid: str, name: str) -> set[int]:
        """The relations whose scope the unit is in."""
        if (model_uuid, name) not in self._scopes:
            units = [(model_uuid, name)]
            units += [
                (key[0], key[2])
                for key in self.expected
                if (key[0], key[2]) not in self._scopes and self._units.get(key) is not None
            ]
            self._scopes.update(await tx.relations.scopes_of_units(units))
        return self._scopes[(model_uuid, name)]

    def wrote(self, key: UnitKey, unit: UnitRecord, writes: Sequence[CommitWrite]) -> None:
        """Keep what a commit of the unit wrote."""
        scopes = self._scopes.get((unit.model_uuid, unit.name))
        for write in writes:
            match write:
                case UpdateUnit(values):
                    unit = dataclasses.replace(unit, **values)
                case EnterScope(relation_id) if scopes is not None:
                    scopes.add(relation_id)
                case LeaveScope(relation_id) if scopes is not None:
                    scopes.discard(relation_id)
        self._units[key] = unit

    def forget_unit(self, key: UnitKey) -> None:
        """A unit another message wrote (or removed): read again if a commit needs it."""
        self._units.pop(key, None)
        self._scopes.pop((key[0], key[2]), None)

    async def relations(self, tx: HookCommitState, model_uuid: str) -> dict[int, frozenset[str]]:
        """Each relation of the model by id, with its applications."""
        if model_uuid not in self._relations:
            self._relations[model_uuid] = {
                relation.id: frozenset(e.application for e in endpoints)
                for relation, endpoints in await tx.relations.all(model_uuid)
            }
        return self._relations[model_uuid]

    async def application(self, tx: HookCommitState, application_id: int) -> ApplicationRecord:
        if application_id not in self._applications:
            self._applications[application_id] = await tx.applications.by_id(application_id)
        return self._applications[application_id]

    def applications_written(self) -> None:
        self._applications.clear()


async def read_facts(
    tx: HookCommitState,
    machine_number: int,
    unit: UnitRecord,
    commit: bus.HookCommit,
    reads: BatchReads | None = None,
) -> CommitFacts:
    """The stored facts `commit` touches; parts it does not have are not read (nor those
    `reads` holds from an earlier commit of the batch)."""
    model_uuid = unit.model_uuid
    reads = reads or BatchReads()
    app = await reads.application(tx, unit.application_id)
    relations = await reads.relations(tx, model_uuid)
    entering = [key for key, change in commit.scope.items() if change == "enter"]
    touched = sorted({*entering, *commit.relations})
    bags = (
        await tx.relations.databags_of(model_uuid, touched, [unit.name, app.name])
        if touched
        else []
    )
    return CommitFacts(
        model_uuid=model_uuid,
        unit=unit,
        app=app,
        relations=relations,
        in_scope=frozenset(await reads.scopes(tx, model_uuid, unit.name)),
        address=await tx.machines.address(model_uuid, machine_number) if entering else "",
        bags={(b.relation_id, b.owner_kind, b.owner): b for b in bags},
        secrets=await _read_secrets(tx, unit, commit),
        storage=await _read_storage(tx, unit, app, commit),
        action=(
            None
            if commit.action is None
            else await tx.actions.of_unit(model_uuid, unit.name, commit.action.id)
        ),
    )


async def _read_secrets(
    tx: HookCommitState, unit: UnitRecord, commit: bus.HookCommit
) -> dict[str, secret_rules.SecretView]:
    if not commit.secrets:
        return {}
    ids = [op.id for op in commit.secrets]
    return secret_rules.secret_views(
        await tx.secrets.rows(unit.model_uuid, ids, unit.name), unit.name
    )


async def _read_storage(
    tx: HookCommitState, unit: UnitRecord, app: ApplicationRecord, commit: bus.HookCommit
) -> StorageFacts | None:
    if not commit.storage_add:
        return None
    meta = await tx.charms.meta(app.charm_sha256)
    return StorageFacts(
        declared=charm_schema.CharmMeta.model_validate(meta or {"name": app.name}).storage,
        have=await tx.storage.unit_counts(unit.model_uuid, unit.name),
        directives=await tx.storage.directives(unit.model_uuid, app.name),
    )


async def write_commit(
    tx: HookCommitState, unit: UnitRecord, writes: Sequence[CommitWrite]
) -> None:
    """Make a plan's writes, in order."""
    model_uuid = unit.model_uuid
    for write in writes:
        match write:
            case EnterScope(relation_id):
                await tx.relations.enter_scope(model_uuid, relation_id, unit.name)
            case LeaveScope(relation_id):
                await tx.relations.leave_scope(model_uuid, relation_id, unit.name)
            case SaveBag(bag, new):
                await tx.relations.save_databag(bag, new=new)
            case AddStorage(name, count, kind, size_mib):
                await tx.storage.add(
                    model_uuid, unit.name, name, count, kind=kind, size_mib=size_mib
                )
            case FinishAction(action_id, values):
                await tx.actions.update(model_uuid, action_id, **values)
            case UpdateUnit(values):
                await tx.units.update(unit, log=False, **values)
            case _:
                await write_secrets(tx, [write])


async def apply_hook_commit(
    tx: HookCommitState,
    model_uuid: str,
    machine_number: int,
    commit: bus.HookCommit,
    now: float,
    reads: BatchReads | None = None,
) -> bool:
    """Apply one hook commit of a unit on the reporting machine exactly once; returns
    whether it was applied."""
    log = logger.bind(unit=commit.unit, seq=commit.seq, hook=commit.hook)
    reads = reads or BatchReads()
    key = (model_uuid, machine_number, commit.unit)
    unit = await reads.unit(tx, key)
    if unit is None:
        log.warning("hook commit for a unit not on the reporting machine dropped")
        return False
    verdict = sequence_verdict(unit.commit_seq, commit.seq)
    if verdict == "gap":
        log.warning("hook commit out of order held back", expected=unit.commit_seq + 1)
    if verdict != "apply":
        return False
    plan = plan_commit(await read_facts(tx, machine_number, unit, commit, reads), commit, now)
    for refusal in plan.refused:
        log.warning("hook commit part refused", field=refusal.field, error=refusal.error.message)
    await write_commit(tx, unit, plan.writes)
    reads.wrote(key, unit, plan.writes)
    tx.changed(f"unit-{unit.name}", "commit", model_uuid)
    return True
