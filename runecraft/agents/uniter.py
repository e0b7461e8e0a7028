"""The uniter's brain: pick a unit's next operation from local and remote state.

Pure: no I/O, no asyncio, no clock. The unit agent feeds in the persisted `LocalState`,
the controller's latest `UnitRemoteState` and the current time, and gets back ONE thing to
do (`Operation`), or `Idle` (with the time at which to look again), or `Removed`. After
running an operation it folds the `Outcome` back in with `commit`; before each look it folds
in what the snapshot acknowledges with `observe`.

`next_op` is a priority chain of small resolvers in Juju 3.6's order
(charm-contract §3.2, `internal/worker/uniter/resolver.go`):

1. a removed unit stays removed;
2. an operation that was queued, or running when the agent died, runs again (an action
   that was running is failed instead: re-running arbitrary commands is not safe);
3. a hook in error waits: `rune resolve` retries it now (or, with `--no-retry`, commits it
   as skipped without running it); for a unit removed with `--force` it is skipped at
   once, so the removal goes on; queued actions still run; the automatic retry runs it
   again after its backoff when `retry_hooks` is on;
4. lost leadership is forgotten (Juju's resign-leadership: no hook);
5. a changed charm runs `upgrade-charm` (its commit queues `config-changed`);
6. `<ep>-relation-created` for each alive relation not yet created (its commit enters scope);
7. `leader-elected` (leader) or `leader-settings-changed` (non-leader, after install and
   whenever the leader-settings version moved);
7a. workload events: the oldest pending `WorkloadEvent` (Pebble: `<c>-pebble-ready`,
   `-custom-notice`, `-check-failed`, `-check-recovered`), passed in by the agent, which
   keeps the queue apart from `LocalState` (its watchers append while hooks run);
7b. secrets: `secret-changed` for a tracked secret whose latest revision moved past the one
   last seen, then `secret-remove` once per obsolete revision of a secret the unit manages,
   then `secret-rotate` / `secret-expired` once their time came (the idle wake-up covers it);
8. queued actions, oldest first, each at most once;
8b. storage: `<name>-storage-attached` for each instance not yet attached (so a new unit
   runs them all before `install`); a dying unit runs `<name>-storage-detaching` for each
   attached instance before its relation teardown, `stop` and `remove`;
9. a dying unit departs and breaks every relation (leaving scope), then `stop`, `remove`;
10. `install`; 11. `config-changed` (its commit queues `start` the first time); 12. `start`;
13. relation hooks in Juju's `nextHookForRelation` order (see `_relations`);
14. `update-status` once its interval elapsed since the last hook; otherwise idle.

Change detection is by hashes and version counters, so several changes between two looks
cost one hook (three config changes → one `config-changed`; three writes of a remote unit's
bag → one `-changed`), and a crash at any point resumes from the persisted operation step.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from runecraft.agents import _relations
from runecraft.schemas import bus
from runecraft.schemas import secrets as sec

__all__ = [
    "ACTION_TERMINATED",
    "CONFIG_CHANGED",
    "INSTALL",
    "LEADER_ELECTED",
    "LEADER_SETTINGS_CHANGED",
    "MAX_RETRY_DELAY",
    "MIN_RETRY_DELAY",
    "REMOVE",
    "SECRET_CHANGED",
    "SECRET_EXPIRED",
    "SECRET_REMOVE",
    "SECRET_ROTATE",
    "START",
    "STOP",
    "STORAGE_ATTACHED",
    "STORAGE_DETACHING",
    "UPDATE_STATUS",
    "UPGRADE_CHARM",
    "WORKLOAD_KINDS",
    "HookError",
    "Idle",
    "LocalState",
    "OpKind",
    "Operation",
    "Outcome",
    "RelationState",
    "Removed",
    "Step",
    "WorkloadEvent",
    "WorkloadKind",
    "commit",
    "next_op",
    "observe",
    "queue_workload",
    "record_step",
    "retry_delay",
    "scope_change",
    "status_after",
    "status_before",
    "take_workload",
]

MIN_RETRY_DELAY = 5.0
"""Seconds before the first automatic retry of a failed hook (Juju `MinRetryTime`)."""
MAX_RETRY_DELAY = 300.0
"""Cap of the doubling retry delay (Juju `MaxRetryTime`)."""

INSTALL = "install"
START = "start"
STOP = "stop"
REMOVE = "remove"
CONFIG_CHANGED = "config-changed"
UPGRADE_CHARM = "upgrade-charm"
LEADER_ELECTED = "leader-elected"
LEADER_SETTINGS_CHANGED = "leader-settings-changed"
UPDATE_STATUS = "update-status"
SECRET_CHANGED = "secret-changed"
SECRET_REMOVE = "secret-remove"
SECRET_ROTATE = "secret-rotate"
SECRET_EXPIRED = "secret-expired"

ACTION_TERMINATED = "action terminated"
"""Message of an action that was running when the agent died (Juju's fail-action)."""

INSTALLING_MESSAGE = "installing charm software"
STOPPING_MESSAGE = "stopping charm software"
CLEANING_UP_MESSAGE = "cleaning up prior to charm deletion"
STORAGE_ATTACHED = "attached"
STORAGE_DETACHING = "detaching"
"""Storage hook events: `<name>-storage-attached`, `<name>-storage-detaching`."""

RelationState = _relations.RelationState


class Step(enum.Enum):
    """How far an operation got; persisted before and after each move so a crash resumes."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


WorkloadKind = Literal["ready", "custom-notice", "check-failed", "check-recovered"]
"""What happened to a workload container; the hook is `<container>-pebble-<kind>`."""
WORKLOAD_KINDS: tuple[WorkloadKind, ...] = (
    "ready",
    "custom-notice",
    "check-failed",
    "check-recovered",
)


@dataclass(frozen=True, kw_only=True)
class WorkloadEvent:
    """One workload (Pebble) event waiting for its hook (pebble.md §5)."""

    container: str
    kind: WorkloadKind
    seq: int = 0
    """Unique per unit, given by `queue_workload`: how the agent takes exactly this event
    out of the queue once an operation carries it."""
    notice_id: str = ""
    notice_type: str = ""
    notice_key: str = ""
    """`JUJU_NOTICE_ID/TYPE/KEY` of a custom-notice."""
    check_name: str = ""
    """`JUJU_PEBBLE_CHECK_NAME` of a check-failed/-recovered."""

    @property
    def hook(self) -> str:
        """`web-pebble-ready`."""
        return f"{self.container}-pebble-{self.kind}"


class OpKind(enum.Enum):
    """What an operation does."""

    RUN_HOOK = "run-hook"
    """Run `hook` as a process."""
    SKIP_HOOK = "skip-hook"
    """Commit `hook` as if it succeeded, without running it (`rune resolve --no-retry`)."""
    RESIGN_LEADERSHIP = "resign-leadership"
    """Forget leadership; Juju never runs `leader-deposed`. Also what a `leader-elected`
    becomes when leadership was lost before it ran."""
    RUN_ACTION = "run-action"
    """Run the action `action_id` through `actions/<name>`."""
    FAIL_ACTION = "fail-action"
    """Report the action `action_id` as failed without running it (it was interrupted)."""


@dataclass(frozen=True, kw_only=True)
class Operation:
    """One thing for the unit agent to do, with the remote facts it was chosen for.

    Everything a re-run needs is in here, so an interrupted operation runs again exactly as
    chosen even if the relation or action it names has gone from the remote state since.
    """

    id: str
    """Unique per unit and stable across re-runs."""
    kind: OpKind
    hook: str = ""
    """The full hook name (`db-relation-joined`); empty for actions."""
    step: Step = Step.QUEUED
    config_hash: str = ""
    """The remote config hash when chosen; `config-changed` commits it."""
    charm_sha: str = ""
    """The remote charm when chosen; `install` and `upgrade-charm` deploy and commit it."""
    charm_revision: int = 0
    """The remote charm's revision when chosen (committed with `charm_sha`)."""
    relation_id: int | None = None
    endpoint: str = ""
    """`JUJU_RELATION` of a relation hook."""
    relation_event: str = ""
    """`created`, `joined`, `changed`, `departed` or `broken` for relation hooks."""
    peer: bool = False
    """The relation is a peer relation."""
    remote_unit: str = ""
    """`JUJU_REMOTE_UNIT`: empty for created/broken and app-level `-changed`."""
    remote_app: str = ""
    departing_unit: str = ""
    """`JUJU_DEPARTING_UNIT` of a `-departed` hook."""
    change_version: int = 0
    """The settings version a joined/changed hook runs for (the commit records it)."""
    action_id: str = ""
    action_name: str = ""
    leader_settings_version: int = 0
    """The leader-settings version a `leader-settings-changed` runs for."""
    resolved_seq: int = 0
    """The remote `resolved_seq` a resolve-retry/skip answers."""
    secret_id: str = ""
    """The bare secret id of a secret hook (`JUJU_SECRET_ID` is `secret:<id>`)."""
    secret_label: str = ""
    secret_revision: int = 0
    """The revision a secret hook runs for (latest for changed, obsolete for remove)."""
    secret_timer: str = ""
    """The `LocalState.secret_timers` key a `secret-rotate`/`secret-expired` runs for."""
    storage_id: str = ""
    """`JUJU_STORAGE_ID` (`data/0`) of a `-storage-attached`/`-storage-detaching` hook."""
    workload: WorkloadEvent | None = None
    """The workload event a `<c>-pebble-*` hook runs for."""

    @property
    def is_action(self) -> bool:
        """A run or fail of an action (not a hook)."""
        return self.kind in (OpKind.RUN_ACTION, OpKind.FAIL_ACTION)

    @property
    def label(self) -> str:
        """What the operation is, for logs and statuses (`install`, `action backup`)."""
        return f"action {self.action_name}" if self.is_action else self.hook or self.kind.value


@dataclass(frozen=True, kw_only=True)
class HookError:
    """A hook failed: no other hook runs until it succeeds (or is resolved)."""

    hook: str
    attempts: int
    """Failed runs so far; the retry delay doubles with each."""
    retry_at: float
    """Wall-clock seconds after which the hook runs again (with `retry_hooks`)."""
    op: Operation | None = None
    """The failed operation: a retry runs it again, `--no-retry` commits it as skipped."""


@dataclass(frozen=True, kw_only=True)
class LocalState:
    """What the unit has done, persisted in the unit dir (`state.json`)."""

    installed: bool = False
    started: bool = False
    stopped: bool = False
    removed: bool = False
    leader: bool = False
    """`leader-elected` ran for the current leadership."""
    config_hash: str | None = None
    """Hash of the config the last successful `config-changed` ran for (None = never)."""
    charm_sha: str = ""
    """The charm deployed in the charm dir (set by `install` and `upgrade-charm`)."""
    charm_revision: int = 0
    """Its revision (the same archive refreshed again is a new one)."""
    operation: Operation | None = None
    """The current (queued/running) or last (done) operation."""
    op_seq: int = 0
    """Last operation id handed out."""
    status_set_called: bool = False
    """The charm has called `status-set` at least once (decides automatic statuses)."""
    error: HookError | None = None
    last_hook_at: float = 0.0
    """When the last hook finished; the update-status timer counts from here."""
    relations: Mapping[int, RelationState] = field(default_factory=dict)
    """Relations this unit created (entered scope of), by id, until they are gone."""
    leader_settings_version: int | None = None
    """Leader-settings version the last `leader-settings-changed` ran for (None: must run)."""
    commit_seq: int = 0
    """The last `HookCommit.seq` handed out (the agent persists pending commits)."""
    actions_done: tuple[str, ...] = ()
    """Ids of actions that ran (or failed) and may still be listed by the controller."""
    resolved_seq: int = 0
    """The last remote `resolved_seq` acted on (or seen while not in error)."""
    secrets_seen: Mapping[str, int] = field(default_factory=dict)
    """Secret id → latest revision `secret-changed` ran for (consumer side)."""
    secret_removes: tuple[str, ...] = ()
    """`<id>/<revision>` pairs `secret-remove` ran for, while still obsolete."""
    secret_timers: tuple[str, ...] = ()
    """`rotate:<id>@<rotates>` / `expired:<id>/<revision>` hooks that ran (each runs once)."""
    storage_attached: tuple[str, ...] = ()
    """Storage ids whose `-storage-attached` ran (and whose `-storage-detaching` has not)."""


@dataclass(frozen=True, kw_only=True)
class Idle:
    """Nothing to do now; look again at `wake_at` (or when the remote state changes)."""

    wake_at: float | None = None


@dataclass(frozen=True, kw_only=True)
class Removed:
    """The unit has run `remove` (or died before install): the agent reports and exits."""


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """How an operation ended, as the agent saw it."""

    succeeded: bool
    """For hooks: exit 0 or missing. Actions always succeed here (the unit never enters
    error for an action); their own outcome goes to the controller."""
    at: float
    """Wall-clock time the operation ended."""
    status_set: bool = False
    """The hook called `status-set` for the unit."""
    jitter: float = 0.0
    """A fraction in [0, 1) chosen by the agent; spreads retries (up to +10 %)."""
    commit_seq: int = 0
    """The `HookCommit.seq` the agent sent for this operation (0: none was needed)."""
    app_written: tuple[int, ...] = ()
    """Relations whose application bag this operation wrote (in that commit)."""


Decision = Operation | Idle | Removed
_Resolver = Callable[[LocalState, bus.UnitRemoteState, float], Decision | None]


def retry_delay(attempts: int, jitter: float = 0.0) -> float:
    """Seconds to wait after the `attempts`-th failure: 5, 10, 20, ... capped at 300."""
    base = MIN_RETRY_DELAY * 2.0 ** max(attempts - 1, 0)
    return min(base, MAX_RETRY_DELAY) * (1.0 + 0.1 * jitter)


def _new_op(
    local: LocalState, remote: bus.UnitRemoteState, hook: str, kind: OpKind = OpKind.RUN_HOOK
) -> Operation:
    return Operation(
        id=str(local.op_seq + 1),
        kind=kind,
        hook=hook,
        config_hash=remote.config_hash,
        charm_sha=remote.charm.sha256,
        charm_revision=remote.charm.revision,
        resolved_seq=local.resolved_seq,
    )


def _relation_op(
    local: LocalState, remote: bus.UnitRemoteState, hook: _relations.RelationHook
) -> Operation:
    return dataclasses.replace(
        _new_op(local, remote, f"{hook.endpoint}-relation-{hook.event}"),
        relation_id=hook.relation_id,
        endpoint=hook.endpoint,
        relation_event=hook.event,
        peer=hook.peer,
        remote_unit=hook.remote_unit,
        remote_app=hook.remote_app,
        departing_unit=hook.departing_unit,
        change_version=hook.version,
    )


def _workload_op(
    local: LocalState, remote: bus.UnitRemoteState, pending: Sequence[WorkloadEvent]
) -> Operation | None:
    """The oldest pending workload event's hook: only after install, never while dying
    (Juju's optional resolvers sit after leadership, before secrets and actions)."""
    if not pending or not _alive_and_installed(local, remote):
        return None
    event = pending[0]
    return dataclasses.replace(_new_op(local, remote, event.hook), workload=event)


def _action_op(local: LocalState, remote: bus.UnitRemoteState) -> Operation | None:
    for action in remote.actions:
        if action.id not in local.actions_done:
            return dataclasses.replace(
                _new_op(local, remote, "", OpKind.RUN_ACTION),
                action_id=action.id,
                action_name=action.name,
            )
    return None


def _rerun(op: Operation, remote: bus.UnitRemoteState) -> Operation:
    """A hook that runs again (retried, resolved or interrupted) is made afresh from the
    remote state, as Juju's resolver does: it reads today's config, so it commits today's
    config hash (committing the one of its first run would run config-changed again).
    leader-elected is dropped (resign) if leadership was lost before it ran."""
    if op.hook == LEADER_ELECTED and op.kind is OpKind.RUN_HOOK and not remote.leader:
        return dataclasses.replace(op, kind=OpKind.RESIGN_LEADERSHIP)
    if op.kind is OpKind.RUN_HOOK and op.config_hash != remote.config_hash:
        return dataclasses.replace(op, config_hash=remote.config_hash)
    return op


def _removed(local: LocalState, remote: bus.UnitRemoteState, now: float) -> Decision | None:
    return Removed() if local.removed else None


def _pending(local: LocalState, remote: bus.UnitRemoteState, now: float) -> Decision | None:
    op = local.operation
    if op is None or op.step is Step.DONE:
        return None
    if op.kind is OpKind.RUN_ACTION:
        wanted = any(action.id == op.action_id for action in remote.actions)
        if op.step is Step.RUNNING or not wanted:
            return dataclasses.replace(op, kind=OpKind.FAIL_ACTION)
        return op
    if op.hook == INSTALL and op.step is Step.QUEUED and remote.life == "dying":
        return Removed()  # the charm never ran (perhaps never downloaded): nothing to undo
    return _rerun(op, remote)


def _hook_error(local: LocalState, remote: bus.UnitRemoteState, now: float) -> Decision | None:
    error = local.error
    if error is None:
        return None
    assert error.op is not None, "a hook error always keeps its operation"
    if remote.resolved != "none" and remote.resolved_seq > local.resolved_seq:
        kind = OpKind.RUN_HOOK if remote.resolved == "retry" else OpKind.SKIP_HOOK
        op = dataclasses.replace(
            error.op, kind=kind, step=Step.QUEUED, resolved_seq=remote.resolved_seq
        )
        return _rerun(op, remote) if kind is OpKind.RUN_HOOK else op
    if remote.life == "dying" and remote.force:
        # Juju's `remove-* --force`: a failing hook no longer holds the removal.
        return dataclasses.replace(error.op, kind=OpKind.SKIP_HOOK, step=Step.QUEUED)
    action = _action_op(local, remote)
    if action is not None:
        return action  # Juju: actions still run while a hook is in error
    if not remote.retry_hooks:
        return Idle()
    if now < error.retry_at:
        return Idle(wake_at=error.retry_at)
    return _rerun(dataclasses.replace(error.op, step=Step.QUEUED), remote)


def _resign(local: LocalState, remote: bus.UnitRemoteState, now: float) -> Decision | None:
    if local.leader and not remote.leader:
        return _new_op(local, remote, "", OpKind.RESIGN_LEADERSHIP)
    return None


def _alive_and_installed(local: LocalState, remote: bus.UnitRemoteState) -> bool:
    return local.installed and remote.life == "alive" and not local.stopped


def _upgrade(local: LocalState, remote: bus.UnitRemoteState, now: float) -> Decision | None:
    charm = remote.charm
    if _alive_and_installed(local, remote) and (
        charm.sha256 != local.charm_sha or charm.revision != local.charm_revision
    ):
        return _new_op(local, remote, UPGRADE_CHARM)
    return None


def _created(local: LocalState, remote: bus.UnitRemoteState, now: float) -> Decision | None:
    if not _alive_and_installed(local, remote):
        return None
    hook = _relations.next_created(local.relations, remote)
    return None if hook is None else _relation_op(local, remote, hook)


def _leadership(local: LocalState, remote: bus.UnitRemoteState, now: float) -> Decision | None:
    if not _alive_and_installed(local, remote):
        return None
    if remote.leader and not local.leader:
        return _new_op(local, remote, LEADER_ELECTED)
    if not remote.leader and local.leader_settings_version != remote.leader_settings_version:
        return dataclasses.replace(
            _new_op(local, remote, LEADER_SETTINGS_CHANGED),
            leader_settings_version=remote.leader_settings_version,
        )
    return None


def _secret_op(
    local: LocalState, remote: bus.UnitRemoteState, hook: str, secret_id: str, label: str, rev: int
) -> Operation:
    return dataclasses.replace(
        _new_op(local, remote, hook), secret_id=secret_id, secret_label=label, secret_revision=rev
    )


def _secrets(local: LocalState, remote: bus.UnitRemoteState, now: float) -> Decision | None:
    if not _alive_and_installed(local, remote):
        return None
    ordered = sorted(remote.secrets, key=lambda s: s.id)
    for secret in ordered:
        if secret.owned or not secret.tracked:
            continue
        if secret.revision > local.secrets_seen.get(secret.id, secret.tracked):
            return _secret_op(
                local, remote, SECRET_CHANGED, secret.id, secret.label, secret.revision
            )
    for secret in ordered:
        if not secret.manage:
            continue
        for revision in secret.obsolete:
            if f"{secret.id}/{revision}" not in local.secret_removes:
                return _secret_op(local, remote, SECRET_REMOVE, secret.id, secret.label, revision)
    for hook, secret, key, at in _secret_timers(remote):
        if at <= now and key not in local.secret_timers:
            op = _secret_op(local, remote, hook, secret.id, secret.label, secret.revision)
            return dataclasses.replace(op, secret_timer=key)
    return None


def _secret_timers(
    remote: bus.UnitRemoteState,
) -> list[tuple[str, sec.SecretRemote, str, float]]:
    """(hook, secret, local-state key, due time) of every rotation and expiry the unit
    manages; the key names the due time, so a moved schedule runs again."""
    timers = []
    for secret in sorted(remote.secrets, key=lambda s: s.id):
        if not secret.manage:
            continue
        if secret.rotates:
            key = f"rotate:{secret.id}@{secret.rotates}"
            timers.append((SECRET_ROTATE, secret, key, _rfc3339(secret.rotates)))
        if secret.expire:
            key = f"expired:{secret.id}/{secret.revision}"
            timers.append((SECRET_EXPIRED, secret, key, _rfc3339(secret.expire)))
    return timers


def _rfc3339(text: str) -> float:
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return float("inf")


def _actions(local: LocalState, remote: bus.UnitRemoteState, now: float) -> Decision | None:
    return _action_op(local, remote) if local.installed else None


def _storage_op(
    local: LocalState, remote: bus.UnitRemoteState, storage_id: str, event: str
) -> Operation:
    name = storage_id.partition("/")[0]
    return dataclasses.replace(
        _new_op(local, remote, f"{name}-storage-{event}"), storage_id=storage_id
    )


def _storage(local: LocalState, remote: bus.UnitRemoteState, now: float) -> Decision | None:
    """Attach new storage (before `install` for a new unit); a dying unit detaches all of
    its storage first (Juju's storage resolver runs before the relation teardown)."""
    if remote.life == "dying" or local.stopped:
        if local.storage_attached:
            return _storage_op(local, remote, local.storage_attached[0], STORAGE_DETACHING)
        return None
    for instance in remote.storage:
        if instance.id not in local.storage_attached:
            return _storage_op(local, remote, instance.id, STORAGE_ATTACHED)
    return None


def _dying(local: LocalState, remote: bus.UnitRemoteState, now: float) -> Decision | None:
    # Life only moves forward; a stopped unit keeps tearing down whatever the snapshot says.
    if remote.life != "dying" and not local.stopped:
        return None
    hook = _relations.next_hook(local.relations, remote, teardown=True)
    if hook is not None:
        return _relation_op(local, remote, hook)
    if local.started and not local.stopped:
        return _new_op(local, remote, STOP)
    if local.installed:
        return _new_op(local, remote, REMOVE)
    return Removed()


def _install(local: LocalState, remote: bus.UnitRemoteState, now: float) -> Decision | None:
    return None if local.installed else _new_op(local, remote, INSTALL)


def _config(local: LocalState, remote: bus.UnitRemoteState, now: float) -> Decision | None:
    if local.config_hash != remote.config_hash:
        return _new_op(local, remote, CONFIG_CHANGED)
    return None


def _start(local: LocalState, remote: bus.UnitRemoteState, now: float) -> Decision | None:
    return None if local.started else _new_op(local, remote, START)


def _relation_hooks(local: LocalState, remote: bus.UnitRemoteState, now: float) -> Decision | None:
    hook = _relations.next_hook(local.relations, remote, teardown=False)
    return None if hook is None else _relation_op(local, remote, hook)


def _update_status(local: LocalState, remote: bus.UnitRemoteState, now: float) -> Decision:
    due = local.last_hook_at + remote.update_status_interval
    if now >= due:
        return _new_op(local, remote, UPDATE_STATUS)
    timers = [at for _, _, key, at in _secret_timers(remote) if key not in local.secret_timers]
    return Idle(wake_at=min([due, *timers]))


_HEAD: tuple[_Resolver, ...] = (
    _removed,
    _pending,
    _hook_error,
    _resign,
    _upgrade,
    _created,
    _leadership,
)
"""The resolvers before the workload events."""
_TAIL: tuple[_Resolver, ...] = (
    _secrets,
    _actions,
    _storage,
    _dying,
    _install,
    _config,
    _start,
    _relation_hooks,
    _update_status,
)


def next_op(
    local: LocalState,
    remote: bus.UnitRemoteState,
    now: float,
    workload: Sequence[WorkloadEvent] = (),
) -> Decision:
    """The one next thing this unit should do; the first resolver with an answer wins.

    `workload` is the unit's queue of pending workload events, oldest first.
    """
    for resolver in _HEAD:
        decision = resolver(local, remote, now)
        if decision is not None:
            return decision
    op = _workload_op(local, remote, workload)
    if op is not None:
        return op
    for resolver in _TAIL:
        decision = resolver(local, remote, now)
        if decision is not None:
            return decision
    raise AssertionError("update-status always decides")  # pragma: no cover


def queue_workload(
    pending: tuple[WorkloadEvent, ...], last_seq: int, event: WorkloadEvent
) -> tuple[tuple[WorkloadEvent, ...], int]:
    """Append `event` to the queue with the next sequence number; returns the queue and the
    last sequence number handed out.

    A pending event of the same container, kind and subject (notice key, check name; none
    for `ready`) absorbs it: one hook answers both (the charm looks at the live daemon), and
    a unit in hook error does not queue one event per flap. A custom notice takes the
    newer notice id and type into the pending event (its place in the queue is kept)."""
    for index, queued in enumerate(pending):
        if _same_subject(queued, event):
            if event.kind != "custom-notice":
                return pending, last_seq
            merged = dataclasses.replace(
                queued, notice_id=event.notice_id, notice_type=event.notice_type
            )
            return (*pending[:index], merged, *pending[index + 1 :]), last_seq
    seq = last_seq + 1
    return (*pending, dataclasses.replace(event, seq=seq)), seq


def _same_subject(a: WorkloadEvent, b: WorkloadEvent) -> bool:
    return (a.container, a.kind, a.notice_key, a.check_name) == (
        b.container,
        b.kind,
        b.notice_key,
        b.check_name,
    )


def take_workload(pending: tuple[WorkloadEvent, ...], op: Operation) -> tuple[WorkloadEvent, ...]:
    """The queue without the event `op` carries (idempotent: a re-run takes nothing)."""
    if op.workload is None:
        return pending
    seq = op.workload.seq
    return tuple(event for event in pending if event.seq != seq)


def observe(local: LocalState, remote: bus.UnitRemoteState) -> LocalState:
    """Fold in what a new snapshot tells the unit without any hook running.

    * A resolve seen while not in error is spent (it cannot resolve a later error).
    * A peer relation's app version produced by this unit's own acknowledged commit is
      marked seen (the writing leader gets no app-level `-changed` for its own write).
    * Broken relations the controller forgot, and done actions it no longer lists, are
      dropped.
    * The commit sequence never falls behind what the controller has applied.
    """
    resolved_seq = local.resolved_seq
    if local.error is None:
        resolved_seq = max(resolved_seq, remote.resolved_seq)
    relations = _relations.observe(local.relations, remote)
    listed = {action.id for action in remote.actions}
    done = tuple(action_id for action_id in local.actions_done if action_id in listed)
    # A unit whose state was lost must not reuse sequence numbers the controller applied.
    commit_seq = max(local.commit_seq, remote.commit_seq)
    # Secrets that went away, and revisions no longer obsolete, are forgotten.
    known = {secret.id for secret in remote.secrets}
    seen = {key: rev for key, rev in local.secrets_seen.items() if key in known}
    obsolete = {f"{s.id}/{rev}" for s in remote.secrets for rev in s.obsolete}
    removes = tuple(key for key in local.secret_removes if key in obsolete)
    current = {key for _, _, key, _ in _secret_timers(remote)}
    timers = tuple(key for key in local.secret_timers if key in current)
    if (resolved_seq, relations, done, commit_seq, seen, removes, timers) == (
        local.resolved_seq,
        local.relations,
        local.actions_done,
        local.commit_seq,
        local.secrets_seen,
        local.secret_removes,
        local.secret_timers,
    ):
        return local
    return dataclasses.replace(
        local,
        resolved_seq=resolved_seq,
        relations=relations,
        actions_done=done,
        commit_seq=commit_seq,
        secrets_seen=seen,
        secret_removes=removes,
        secret_timers=timers,
    )


def record_step(local: LocalState, op: Operation, step: Step) -> LocalState:
    """Note that `op` reached `step` (queued before preparing, running before the hook)."""
    seq = max(local.op_seq, int(op.id)) if op.id.isdigit() else local.op_seq
    return dataclasses.replace(local, operation=dataclasses.replace(op, step=step), op_seq=seq)


def scope_change(op: Operation) -> dict[int, Literal["enter", "leave"]]:
    """Scope moves an operation's commit carries: enter after created, leave after broken."""
    if op.relation_id is None or op.kind not in (OpKind.RUN_HOOK, OpKind.SKIP_HOOK):
        return {}
    if op.relation_event == "created":
        return {op.relation_id: "enter"}
    if op.relation_event == "broken":
        return {op.relation_id: "leave"}
    return {}


def _queue(local: LocalState, op: Operation, hook: str) -> LocalState:
    """Queue `hook` to run next (Juju's hook chaining in runhook Commit)."""
    queued = Operation(
        id=str(local.op_seq + 1),
        kind=OpKind.RUN_HOOK,
        hook=hook,
        config_hash=op.config_hash,
        charm_sha=op.charm_sha,
        charm_revision=op.charm_revision,
        resolved_seq=op.resolved_seq,
    )
    return dataclasses.replace(local, operation=queued, op_seq=local.op_seq + 1)


def _relation_hook(op: Operation) -> _relations.RelationHook:
    assert op.relation_id is not None
    return _relations.RelationHook(
        relation_id=op.relation_id,
        endpoint=op.endpoint,
        event=op.relation_event,
        remote_app=op.remote_app,
        peer=op.peer,
        remote_unit=op.remote_unit,
        departing_unit=op.departing_unit,
        version=op.change_version,
    )


def _hook_effects(local: LocalState, op: Operation) -> LocalState:
    hook = op.hook
    if op.relation_id is not None:
        relations = _relations.commit(local.relations, _relation_hook(op))
        return dataclasses.replace(local, relations=relations)
    if hook == INSTALL:
        return dataclasses.replace(
            local, installed=True, charm_sha=op.charm_sha, charm_revision=op.charm_revision
        )
    if hook == UPGRADE_CHARM:
        upgraded = dataclasses.replace(
            local, charm_sha=op.charm_sha, charm_revision=op.charm_revision
        )
        return _queue(upgraded, op, CONFIG_CHANGED)
    if hook == LEADER_ELECTED:
        return dataclasses.replace(local, leader=True)
    if hook == LEADER_SETTINGS_CHANGED:
        return dataclasses.replace(local, leader_settings_version=op.leader_settings_version)
    if hook == CONFIG_CHANGED:
        local = dataclasses.replace(local, config_hash=op.config_hash)
        if not local.started and not local.stopped:
            # Juju's runhook Commit: the first config-changed is always followed by start.
            return _queue(local, op, START)
        return local
    if hook in (SECRET_CHANGED, SECRET_REMOVE, SECRET_ROTATE, SECRET_EXPIRED):
        return _secret_hook_effects(local, op)
    if op.storage_id and hook.endswith(f"-storage-{STORAGE_ATTACHED}"):
        return dataclasses.replace(local, storage_attached=(*local.storage_attached, op.storage_id))
    if op.storage_id and hook.endswith(f"-storage-{STORAGE_DETACHING}"):
        kept = tuple(s for s in local.storage_attached if s != op.storage_id)
        return dataclasses.replace(local, storage_attached=kept)
    if hook == START:
        return dataclasses.replace(local, started=True)
    if hook == STOP:
        return dataclasses.replace(local, stopped=True)
    if hook == REMOVE:
        return dataclasses.replace(local, removed=True)
    return local


def _secret_hook_effects(local: LocalState, op: Operation) -> LocalState:
    """A secret hook is remembered so that it runs once per revision or timer."""
    if op.hook == SECRET_CHANGED:
        seen = {**local.secrets_seen, op.secret_id: op.secret_revision}
        return dataclasses.replace(local, secrets_seen=seen)
    if op.hook == SECRET_REMOVE:
        key = f"{op.secret_id}/{op.secret_revision}"
        return dataclasses.replace(local, secret_removes=(*local.secret_removes, key))
    return dataclasses.replace(local, secret_timers=(*local.secret_timers, op.secret_timer))


def _clears_error(local: LocalState, op: Operation) -> HookError | None:
    error = local.error
    if error is not None and error.op is not None and error.op.id == op.id:
        return None
    return error


def commit(local: LocalState, op: Operation, outcome: Outcome) -> LocalState:
    """Fold an operation's outcome into local state: its effects, or the error to retry."""
    local = record_step(local, op, Step.DONE)
    local = dataclasses.replace(
        local,
        resolved_seq=max(local.resolved_seq, op.resolved_seq),
        commit_seq=max(local.commit_seq, outcome.commit_seq),
        status_set_called=local.status_set_called or outcome.status_set,
    )
    if op.is_action:
        done = (*local.actions_done, op.action_id)
        return dataclasses.replace(local, actions_done=done)
    if op.kind is OpKind.RESIGN_LEADERSHIP:
        return dataclasses.replace(
            local, leader=False, leader_settings_version=None, error=_clears_error(local, op)
        )
    if not outcome.succeeded:
        attempts = local.error.attempts + 1 if local.error is not None else 1
        error = HookError(
            hook=op.hook,
            attempts=attempts,
            retry_at=outcome.at + retry_delay(attempts, outcome.jitter),
            op=dataclasses.replace(op, step=Step.QUEUED),
        )
        return dataclasses.replace(local, error=error, last_hook_at=outcome.at)
    ran = op.kind is OpKind.RUN_HOOK
    local = dataclasses.replace(
        local, error=None, last_hook_at=outcome.at if ran else local.last_hook_at
    )
    local = _hook_effects(local, op)
    if outcome.app_written and outcome.commit_seq:
        relations = _relations.await_app_ack(
            local.relations, outcome.app_written, outcome.commit_seq
        )
        local = dataclasses.replace(local, relations=relations)
    return local


def status_before(local: LocalState, op: Operation) -> bus.StatusValue | None:
    """Workload status the agent sets before running `op` (runhook beforeHook)."""
    if op.kind is not OpKind.RUN_HOOK:
        return None
    if op.hook == INSTALL and not local.status_set_called:
        return bus.StatusValue(status="maintenance", message=INSTALLING_MESSAGE)
    if op.hook == STOP:
        return bus.StatusValue(status="maintenance", message=STOPPING_MESSAGE)
    return None


def status_after(local: LocalState, op: Operation, outcome: Outcome) -> bus.StatusValue | None:
    """Workload status the agent sets after `op` succeeded (runhook afterHook).

    `local` is the state before the commit, so `status_set_called` says whether the charm
    had ever set a status before this hook.
    """
    if op.kind is not OpKind.RUN_HOOK or not outcome.succeeded:
        return None
    if op.hook == START and not (local.status_set_called or outcome.status_set):
        return bus.StatusValue(status="unknown", message="")
    if op.hook == STOP:
        return bus.StatusValue(status="maintenance", message=CLEANING_UP_MESSAGE)
    if op.hook == REMOVE:
        return bus.StatusValue(status="terminated", message="")
    return None
