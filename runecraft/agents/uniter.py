"""The uniter's brain: pick a unit's next operation from local and remote state.

Pure: no I/O, no asyncio, no clock. The unit agent feeds in the persisted `LocalState`,
the controller's latest `UnitRemoteState` and the current time, and gets back ONE thing to
do (`Operation`), or `Idle` (with the time at which to look again), or `Removed`. After
running an operation it folds the `Outcome` back in with `commit`.

`next_op` is a priority chain of small resolvers in Juju 3.6's order
(charm-contract §3.2, `internal/worker/uniter/resolver.go`):

1. a hook in error waits for its retry time, then runs again (nothing else runs meanwhile);
2. an operation that was queued, or running when the agent died, runs (again);
3. lost leadership is forgotten (Juju's resign-leadership: no hook);
4. a dying unit runs `stop` (if started) then `remove`;
5. `install`;
6. `leader-elected` when the unit became leader;
7. `config-changed` when the config hash moved (its commit queues `start` if not started);
8. `start`;
9. `update-status` once its interval elapsed since the last hook; otherwise idle.

Because the decision is recomputed from state after every operation (level-triggered), three
config changes made while a hook runs cost one `config-changed`, and a crash at any point
resumes from the persisted operation step.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from dataclasses import dataclass

from runecraft.schemas import bus

__all__ = [
    "CONFIG_CHANGED",
    "INSTALL",
    "LEADER_ELECTED",
    "MAX_RETRY_DELAY",
    "MIN_RETRY_DELAY",
    "REMOVE",
    "START",
    "STOP",
    "UPDATE_STATUS",
    "HookError",
    "Idle",
    "LocalState",
    "OpKind",
    "Operation",
    "Outcome",
    "Removed",
    "Step",
    "commit",
    "next_op",
    "record_step",
    "retry_delay",
    "status_after",
    "status_before",
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
LEADER_ELECTED = "leader-elected"
UPDATE_STATUS = "update-status"

INSTALLING_MESSAGE = "installing charm software"
STOPPING_MESSAGE = "stopping charm software"
CLEANING_UP_MESSAGE = "cleaning up prior to charm deletion"


class Step(enum.Enum):
    """How far an operation got; persisted before and after each move so a crash resumes."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


class OpKind(enum.Enum):
    """What an operation does. New kinds (upgrade-charm, run-action) slot in here."""

    RUN_HOOK = "run-hook"
    """Run `hook` as a process."""
    SKIP_HOOK = "skip-hook"
    """Commit `hook` without running it (leader-elected after leadership was lost)."""
    RESIGN_LEADERSHIP = "resign-leadership"
    """Forget leadership; Juju never runs `leader-deposed`."""


@dataclass(frozen=True, kw_only=True)
class Operation:
    """One thing for the unit agent to do, with the remote facts it was chosen for."""

    id: str
    """Unique per unit and stable across re-runs: hook commits are keyed by it."""
    kind: OpKind
    hook: str = ""
    step: Step = Step.QUEUED
    config_hash: str = ""
    """The remote config hash when chosen; `config-changed` commits it."""
    charm_sha: str = ""
    """The remote charm when chosen; `install` commits it."""


@dataclass(frozen=True, kw_only=True)
class HookError:
    """A hook failed: nothing else runs until it succeeds (or is resolved)."""

    hook: str
    attempts: int
    """Failed runs so far; the retry delay doubles with each."""
    retry_at: float
    """Wall-clock seconds after which the hook runs again."""


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
    operation: Operation | None = None
    """The current (queued/running) or last (done) operation."""
    op_seq: int = 0
    """Last operation id handed out."""
    status_set_called: bool = False
    """The charm has called `status-set` at least once (decides automatic statuses)."""
    error: HookError | None = None
    last_hook_at: float = 0.0
    """When the last hook finished; the update-status timer counts from here."""


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
    at: float
    """Wall-clock time the operation ended."""
    status_set: bool = False
    """The hook called `status-set` for the unit."""
    jitter: float = 0.0
    """A fraction in [0, 1) chosen by the agent; spreads retries (up to +10 %)."""


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
    )


def _gone_stale(op: Operation, remote: bus.UnitRemoteState) -> bool:
    """leader-elected is skipped if leadership was lost before it ran (runhook Prepare)."""
    return op.hook == LEADER_ELECTED and not remote.leader


def _rerun(op: Operation, remote: bus.UnitRemoteState) -> Operation:
    if _gone_stale(op, remote):
        return dataclasses.replace(op, kind=OpKind.SKIP_HOOK)
    return op


def _hook_error(local: LocalState, remote: bus.UnitRemoteState, now: float) -> Decision | None:
    if local.error is None:
        return None
    if now < local.error.retry_at:
        return Idle(wake_at=local.error.retry_at)
    assert local.operation is not None, "a hook error always keeps its operation"
    return _rerun(local.operation, remote)


def _pending(local: LocalState, remote: bus.UnitRemoteState, now: float) -> Decision | None:
    op = local.operation
    if op is None or op.step is Step.DONE:
        return None
    if op.hook == INSTALL and op.step is Step.QUEUED and remote.life == "dying":
        return Removed()  # the charm never ran (perhaps never downloaded): nothing to undo
    return _rerun(op, remote)


def _removed(local: LocalState, remote: bus.UnitRemoteState, now: float) -> Decision | None:
    return Removed() if local.removed else None


def _resign(local: LocalState, remote: bus.UnitRemoteState, now: float) -> Decision | None:
    if local.leader and not remote.leader:
        return _new_op(local, remote, "", OpKind.RESIGN_LEADERSHIP)
    return None


def _dying(local: LocalState, remote: bus.UnitRemoteState, now: float) -> Decision | None:
    # Life only moves forward; a stopped unit keeps tearing down whatever the snapshot says.
    if remote.life != "dying" and not local.stopped:
        return None
    if local.started and not local.stopped:
        return _new_op(local, remote, STOP)
    if local.installed:
        return _new_op(local, remote, REMOVE)
    return Removed()


def _install(local: LocalState, remote: bus.UnitRemoteState, now: float) -> Decision | None:
    return None if local.installed else _new_op(local, remote, INSTALL)


def _leader(local: LocalState, remote: bus.UnitRemoteState, now: float) -> Decision | None:
    if remote.leader and not local.leader:
        return _new_op(local, remote, LEADER_ELECTED)
    return None


def _config(local: LocalState, remote: bus.UnitRemoteState, now: float) -> Decision | None:
    if local.config_hash != remote.config_hash:
        return _new_op(local, remote, CONFIG_CHANGED)
    return None


def _start(local: LocalState, remote: bus.UnitRemoteState, now: float) -> Decision | None:
    return None if local.started else _new_op(local, remote, START)


def _update_status(local: LocalState, remote: bus.UnitRemoteState, now: float) -> Decision:
    due = local.last_hook_at + remote.update_status_interval
    if now >= due:
        return _new_op(local, remote, UPDATE_STATUS)
    return Idle(wake_at=due)


_CHAIN: tuple[_Resolver, ...] = (
    _hook_error,
    _pending,
    _removed,
    _resign,
    _dying,
    _install,
    _leader,
    _config,
    _start,
    _update_status,
)


def next_op(local: LocalState, remote: bus.UnitRemoteState, now: float) -> Decision:
    """The one next thing this unit should do; the first resolver with an answer wins."""
    for resolver in _CHAIN:
        decision = resolver(local, remote, now)
        if decision is not None:
            return decision
    raise AssertionError("update-status always decides")  # pragma: no cover


def record_step(local: LocalState, op: Operation, step: Step) -> LocalState:
    """Note that `op` reached `step` (queued before preparing, running before the hook)."""
    seq = max(local.op_seq, int(op.id)) if op.id.isdigit() else local.op_seq
    return dataclasses.replace(local, operation=dataclasses.replace(op, step=step), op_seq=seq)


def _hook_effects(local: LocalState, op: Operation) -> LocalState:
    hook = op.hook
    if hook == INSTALL:
        return dataclasses.replace(local, installed=True, charm_sha=op.charm_sha)
    if hook == LEADER_ELECTED and op.kind is OpKind.RUN_HOOK:
        return dataclasses.replace(local, leader=True)
    if hook == CONFIG_CHANGED:
        local = dataclasses.replace(local, config_hash=op.config_hash)
        if not local.started and not local.stopped:
            # Juju's runhook Commit: the first config-changed is always followed by start.
            start = Operation(
                id=str(local.op_seq + 1),
                kind=OpKind.RUN_HOOK,
                hook=START,
                config_hash=op.config_hash,
                charm_sha=op.charm_sha,
            )
            return dataclasses.replace(local, operation=start, op_seq=local.op_seq + 1)
        return local
    if hook == START:
        return dataclasses.replace(local, started=True)
    if hook == STOP:
        return dataclasses.replace(local, stopped=True)
    if hook == REMOVE:
        return dataclasses.replace(local, removed=True)
    return local


def commit(local: LocalState, op: Operation, outcome: Outcome) -> LocalState:
    """Fold an operation's outcome into local state: its effects, or the error to retry."""
    local = record_step(local, op, Step.DONE)
    if op.kind is OpKind.RESIGN_LEADERSHIP:
        return dataclasses.replace(local, leader=False)
    if not outcome.succeeded:
        attempts = local.error.attempts + 1 if local.error is not None else 1
        error = HookError(
            hook=op.hook,
            attempts=attempts,
            retry_at=outcome.at + retry_delay(attempts, outcome.jitter),
        )
        return dataclasses.replace(
            local,
            operation=dataclasses.replace(op, step=Step.QUEUED),
            error=error,
            last_hook_at=outcome.at,
            status_set_called=local.status_set_called or outcome.status_set,
        )
    local = dataclasses.replace(
        local,
        error=None,
        last_hook_at=outcome.at if op.kind is OpKind.RUN_HOOK else local.last_hook_at,
        status_set_called=local.status_set_called or outcome.status_set,
    )
    return _hook_effects(local, op)


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
