"""The unit agent: one asyncio task that drives one unit's charm through its hooks.

Each pass of the loop reads the latest remote state, asks the pure resolver
(`uniter.next_op`) for ONE operation, and runs it as prepare / execute / commit, persisting
the operation step before and after each phase (`_state_store`), so that a crash resumes
exactly: a hook killed mid-run runs again, a committed one never does. The loop is
level-triggered: `update()` only stores the newest remote state and sets an event; the only
timers are the update-status interval and the hook-retry backoff.

Every change to what the unit reports (workload status, agent status, workload version,
converged config hash, removal) goes out at once as a full `UnitReport` through the injected
`Outbox`; `status-set` inside a hook is reported immediately too, as are `leader-set`
(`LeaderSet`) and `action-log` (`ActionLog`). The outbox may refuse a message (it is full):
the latest report and application status are then sent again on a later pass (the machine
agent's heartbeat wakes the unit), `action-log` lines wait in order in a bounded queue
(`_actionlog`), and `leader-set` waits until the outbox takes the settings, as Juju's returns
only once the controller has them (after `LEADER_SET_WAIT` it fails and writes nothing).

A successful hook's buffered writes (and every action's outcome) become ONE `HookCommit`,
numbered 1, 2, 3 … per unit, persisted together with the local-state change BEFORE it is
sent, and resent until a snapshot's `commit_seq` covers it (runtime contract: exactly once,
in order). Until then hooks see those writes through the context, and the unit does not
claim to have settled on a snapshot that does not yet include them.

Every hook, action and fork server the agent runs has its process group on record in the
unit dir while it runs (`_leftovers`); an agent starting after one that was killed kills
those groups before anything runs, so a hook that re-runs never runs beside its earlier
self. A removed unit waits (bounded) until the controller holds its log before it reports
the removal, after which the controller forgets it and its directory goes.

A full disk never stops the agent: a record that cannot be saved is kept in memory and
saved with back-off (logged once per outage, and shown in the agent status's message);
meanwhile no hook starts (its `running` step must be on disk first) and no commit is sent
(it must be on disk before it is sent), so the rules above hold across the outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import os
import random
import secrets
import shutil
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from runecraft import _logging, _retry, _tracing, charms, errors
from runecraft.agents import (
    _actionlog,
    _context,
    _forkserver,
    _hookrecord,
    _leftovers,
    _operations,
    _state_store,
    _toolserver,
    _unitlog,
    _workloads,
    hookrunner,
    uniter,
)
from runecraft.schemas import bus, sequencing
from runecraft.schemas import exec as exec_schema
from runecraft.schemas import storage as storage_schema
from runecraft.schemas.secrets import SecretOp

__all__ = [
    "AgentMessage",
    "CharmSource",
    "ModelInfo",
    "Outbox",
    "ResourceSource",
    "UnitAgent",
    "UnitPaths",
    "Unpacker",
    "unit_dir_name",
]

logger = _logging.get_logger(__name__)

INITIAL_WORKLOAD = bus.StatusValue(status="waiting", message="agent initialising")
"""Workload status of a unit whose charm has not said anything yet."""

SEQ_BLOCK = 64
"""Report numbers reserved per write of the unit's state: a restart skips at most this many,
far below `sequencing.REPORT_WINDOW`."""


AgentMessage = (
    bus.UnitReport
    | bus.AppStatusReport
    | bus.HookCommit
    | bus.HookRun
    | bus.LeaderSet
    | bus.ActionLog
)
"""Everything a unit agent sends to the controller."""

HookRan = Callable[[str, str, str, float], None]
"""Told of a hook that ended: its charm, its name, its outcome (`succeeded`, `failed` or
`missing`) and how many seconds it ran."""

RESEND_RUNS = 8
"""Hook-run records sent again after a reconnect (the controller ignores repeats)."""

LEADER_SET_WAIT = 60.0
"""Seconds `leader-set` waits for a full outbox to take the settings before it fails (Juju's
call fails too once its connection to the controller is given up)."""


class Outbox(Protocol):
    """Where messages go (the machine agent's bus link in production)."""

    async def send(self, message: AgentMessage) -> bool:
        """Queue or deliver one message; must not block for long. False: refused (a full
        outbox), and the unit sends its report or commit again later."""


class CharmSource(Protocol):
    """Fetches charm archives by content hash (the controller's HTTP API in production)."""

    async def fetch(self, sha256: str) -> bytes:
        """The archive whose sha256 is `sha256`."""


@runtime_checkable
class ResourceSource(Protocol):
    """Fetches application resource files by content hash (a `CharmSource` may be one)."""

    async def fetch_resource(self, sha256: str) -> bytes:
        """The resource file whose sha256 is `sha256`."""

    async def fetch_credential(self, unit: str) -> dict[str, Any]:
        """The cloud spec `credential-get` answers for a trusted unit."""


Unpacker = Callable[[bytes, Path], None]
"""Extract a charm archive into a directory, keeping files the charm created there."""


def _unpack_charm(archive: bytes, dest: Path) -> None:
    charms.unpack(archive, dest)


def unit_dir_name(unit: str) -> str:
    """`app/3` → `app-3` (a unit's directory under `<data_dir>/units/`)."""
    return unit.replace("/", "-")


@dataclass(frozen=True)
class UnitPaths:
    """The unit directory layout."""

    base: Path

    @classmethod
    def for_unit(cls, data_dir: Path, unit: str) -> UnitPaths:
        """`<data_dir>/units/<app>-<n>/`."""
        return cls(data_dir / "units" / unit_dir_name(unit))

    @property
    def charm(self) -> Path:
        """The persistent, writable charm dir: cwd and `JUJU_CHARM_DIR` of every hook."""
        return self.base / "charm"

    @property
    def tools(self) -> Path:
        """Hook-tool executables; first on every hook's PATH."""
        return self.base / "tools"

    @property
    def state(self) -> Path:
        """The persisted `UnitRecord`."""
        return self.base / "state.json"

    @property
    def socket(self) -> Path:
        """The hook-tool socket (0600): in the unit dir, or, when that path is too long for
        a unix socket, in a private dir named after the unit dir, in the agent's runtime
        dir (see `_workloads.runtime_dir`) or else under /tmp."""
        preferred = self.base / "agent.sock"
        if len(os.fsencode(preferred)) <= _toolserver.MAX_SOCKET_PATH:
            return preferred
        digest = hashlib.sha256(os.fsencode(self.base)).hexdigest()[:24]
        base = _workloads.runtime_dir() or Path("/tmp")
        return base / f"runecraft-{digest}" / "agent.sock"

    @property
    def log(self) -> Path:
        """The unit log: hook output and `juju-log`."""
        return self.base / "unit.log"

    @property
    def processes(self) -> Path:
        """Records of the process groups the agent runs (`_leftovers`)."""
        return self.base / "processes"

    def storage(self, storage_id: str) -> Path:
        """A storage instance's directory: `<data_dir>/storage/<name>-<N>` (the machine's)."""
        return self.base.parent.parent / "storage" / storage_schema.storage_dir_name(storage_id)

    @property
    def manifest(self) -> Path:
        """The files of the charm deployed last (so an upgrade can delete stale ones)."""
        return self.base / "charm-manifest.json"


@dataclass(frozen=True, kw_only=True)
class ModelInfo:
    """Facts about the model and machine that every hook's environment carries."""

    model_name: str
    model_uuid: str
    machine_id: str
    api_addresses: str = ""


class _Backend:
    """The hook context's immediate effects, applied by the agent."""

    def __init__(self, agent: UnitAgent) -> None:
        self._agent = agent

    async def set_unit_status(self, status: bus.StatusValue) -> None:
        await self._agent._apply(workload=status)

    async def set_app_status(self, status: bus.StatusValue) -> None:
        await self._agent._apply(app_status=status)

    async def set_workload_version(self, version: str) -> None:
        await self._agent._apply(workload_version=version)

    async def leader_set(self, settings: Mapping[str, str]) -> None:
        await self._agent._leader_set(settings)

    async def action_log(self, action_id: str, message: str) -> None:
        agent = self._agent
        line = bus.ActionLog(unit=agent.unit, action_id=action_id, message=message)
        if not await agent._waiting.action_logs.add(line):
            agent._refused = True
            agent._flush_action_logs_later()


def _environment(
    remote: bus.UnitRemoteState, paths: UnitPaths, model: ModelInfo, agent_path: str | None
) -> hookrunner.UnitEnvironment:
    """What every hook of the unit finds in its environment."""
    return hookrunner.UnitEnvironment(
        unit=remote.unit,
        principal=remote.principal,
        model_name=model.model_name,
        model_uuid=model.model_uuid,
        machine_id=model.machine_id,
        charm_dir=paths.charm,
        tools_dir=paths.tools,
        socket_path=paths.socket,
        api_addresses=model.api_addresses,
        agent_path=agent_path or hookrunner.DEFAULT_AGENT_PATH,
    )


def _processes(paths: UnitPaths) -> tuple[_leftovers.ProcessRecords, _forkserver.ForkServer]:
    """The unit's process records, and its fork server, which keeps its group on them."""
    records = _leftovers.ProcessRecords(paths.processes)
    server = _forkserver.ForkServer(
        paths.socket.with_name("fork.sock"), paths.base / "forkserver.log", records=records
    )
    return records, server


class _Waiting:
    """What waits for room in a full outbox besides the report and the commits."""

    def __init__(self, outbox: Outbox) -> None:
        self.room = asyncio.Event()
        """Set by `UnitAgent.poke()`: the outbox may have room now."""
        self.app_status = False
        """The latest application status was refused: the next pass sends it."""
        self.leader_sets = asyncio.Lock()
        """One `leader-set` at a time, in call order."""
        self.action_logs = _actionlog.ActionLogQueue(outbox.send)
        self.action_log_flusher: asyncio.Task[None] | None = None


class UnitAgent:
    """Runs one unit: `run()` until the unit is removed (or the task is cancelled)."""

    _unsaved: OSError | None = None
    """Why `_record` is not on disk yet (None: it is)."""
    _saved_commit_seq: int = 0
    """The newest commit on disk: only those are ever sent."""
    leader_set_wait: float = LEADER_SET_WAIT
    """Seconds `leader-set` waits for a full outbox to take the settings."""

    def __init__(
        self,
        *,
        remote: bus.UnitRemoteState,
        paths: UnitPaths,
        model: ModelInfo,
        outbox: Outbox,
        charms: CharmSource,
        unpack: Unpacker | None = None,
        hook_lock: asyncio.Lock | None = None,
        clock: Callable[[], float] = time.time,
        agent_path: str | None = None,
        snapshot_revision: int = 0,
        containers_dir: Path | None = None,
        pebble_daemons: bool = False,
        deliver_log: Callable[[], Awaitable[object]] | None = None,
        hook_ran: HookRan | None = None,
    ) -> None:
        """Set up (no I/O yet).

        Args:
            remote: The controller's current wishes for this unit.
            paths: The unit directory.
            model: Model and machine facts for the hook environment.
            outbox: Where reports go.
            charms: Where charm archives come from.
            unpack: Extracts an archive into the charm dir (default `runecraft.charms.unpack`).
            hook_lock: The machine lock: one hook at a time per machine, as in Juju.
            clock: Wall-clock seconds; persisted timers (retry, update-status) use it.
            agent_path: PATH for hooks after the tools dir (default: a standard system PATH).
            snapshot_revision: Revision of the `MachineSnapshot` that `remote` came from.
            containers_dir: The unit's `/charm/containers` (default: a machine's own).
            pebble_daemons: Run a Pebble daemon per workload container (not in a pod).
            deliver_log: Delivers the unit log so far (bounded); awaited before the removal.
            hook_ran: Told of every hook that ended (not actions), for the agent's metrics.
        """
        self.paths = paths
        self._wanted = (remote, snapshot_revision)
        self._trace = _tracing.traceparent()  # the traced snapshot's: its operations' parent
        self._seen_revision = snapshot_revision
        self._model = model
        self._outbox = outbox
        self._charms = charms
        self._resource_source = charms if isinstance(charms, ResourceSource) else None
        self._unpack = unpack or _unpack_charm
        self._hook_lock = hook_lock or asyncio.Lock()
        self._clock = clock
        self._store = _state_store.StateStore(paths.state)
        self._saver = _state_store.StateSaver(self._store, self._saved)
        self._record = _state_store.UnitRecord()
        self._wake = asyncio.Event()
        self._agent_status = bus.StatusValue(status="allocating")
        self._converged = ""
        self._removed = False
        self._seq = 0  # the report counter (`UnitReport`, `LeaderSet`, `AppStatusReport`)
        self._loaded = False
        self._last_sent: tuple[object, ...] | None = None
        self._refused = False  # the outbox refused a report or commit: next pass resends
        self._commit_sent: dict[int, int] = {}  # commit seq → snapshot revision when sent
        self._log = _unitlog.UnitLog(paths.log, remote.unit)
        self._deliver_log = deliver_log
        self._hook_ran = hook_ran
        self._server: _toolserver.ToolServer | None = None
        self._processes, self._forks = _processes(paths)
        self._unit_env = _environment(remote, paths, model, agent_path)
        self._unit = remote.unit
        self._logger = logger.bind(unit=remote.unit)
        self._workloads = _workloads.Workloads(
            unit=remote.unit,
            unit_dir=paths.base,
            containers_dir=containers_dir or _workloads.containers_dir(paths.base, pod=False),
            sink=_WorkloadSink(self),
            daemons=pebble_daemons,
        )
        self._containers: tuple[str, ...] = ()  # of the deployed charm
        self._warned_pebble = False
        self._outage = _retry.Outage("cannot save unit state; keeping it and retrying")
        self._ran: _hookrecord.Ran | None = None
        self._recent_runs: list[bus.HookRun] = []
        """The newest hook-run records sent, resent after a reconnect."""

    @functools.cached_property
    def _waiting(self) -> _Waiting:
        return _Waiting(self._outbox)

    # --- public ----------------------------------------------------------------------------

    @property
    def unit(self) -> str:
        """`app/N`."""
        return self._unit

    @property
    def remote(self) -> bus.UnitRemoteState:
        """The newest remote state received."""
        return self._wanted[0]

    @property
    def local(self) -> uniter.LocalState:
        """The persisted local state."""
        return self._record.local

    @property
    def workloads(self) -> _workloads.Workloads:
        """The unit's workload containers: their watchers and (on machines) daemons."""
        return self._workloads

    @property
    def workload_sink(self) -> _workloads.WorkloadSink:
        """Where workload events come in (the watchers'; persisted and run in order)."""
        return self._workloads.sink

    def write_held_lines(self) -> None:
        """Write unit-log lines a full disk held back, if there is room now."""
        self._log.flush()

    @property
    def removed(self) -> bool:
        """The unit ran `remove` (or died before install) and reported it."""
        return self._removed

    def update(self, remote: bus.UnitRemoteState, snapshot_revision: int | None = None) -> None:
        """Take a newer remote state and wake the loop (never blocks).

        `snapshot_revision` is the `MachineSnapshot.revision` it came from; once the unit is
        idle on it, its reports say so (that is how the controller knows it settled).
        """
        if remote.unit != self._unit:
            raise ValueError(f"remote state for {remote.unit} sent to {self._unit}")
        revision = self._wanted[1] if snapshot_revision is None else snapshot_revision
        self._wanted = (remote, revision)
        if (trace := _tracing.traceparent()) is not None:
            self._trace = trace
        self._wake.set()

    def poke(self) -> None:
        """Wake the loop to re-evaluate (a timer may have become due), and whatever waits
        for room in a full outbox."""
        self._wake.set()
        self._waiting.room.set()

    @property
    def refused(self) -> bool:
        """The outbox refused this unit's latest report, application status, a commit, an
        `action-log` line or `leader-set` (it was full): a `poke()` once it may have room
        makes the unit send them again. Without that, a unit with nothing new to say would
        never send the report it lost."""
        return self._refused

    def report(self) -> bus.UnitReport:
        """The unit's whole reported state, with a fresh sequence number."""
        return bus.UnitReport(
            unit=self.unit,
            seq=self._next_seq(),
            workload=self._workload(),
            agent=self._agent_status,
            workload_version=self._record.workload_version,
            converged_hash=self._converged,
            snapshot_revision=self._seen_revision,
            removed=self._removed,
        )

    async def resend(self) -> None:
        """Send the full report and every unacknowledged commit again (after a reconnect)."""
        await self._send_report()
        if self._record.app_status is not None and self.remote.leader:
            await self._send_app_status()
        for commit in self._record.pending_commits:
            await self._send_commit(commit)
        for run in self._recent_runs:
            await self._outbox.send(run)

    @property
    def pending_commits(self) -> tuple[bus.HookCommit, ...]:
        """Commits sent but not yet acknowledged by a snapshot."""
        return self._record.pending_commits

    async def run(self) -> None:
        """Drive the unit until it is removed; cancel to stop (no stop hook runs)."""
        self.paths.base.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.paths.base.chmod(0o700)
        self.paths.charm.mkdir(exist_ok=True)
        _toolserver.install_tools(self.paths.tools)
        self._record = self._store.load()
        self._loaded = True
        self._seq = max(self._seq, self._record.report_seq_reserved)
        self._saved_commit_seq = self.local.commit_seq
        self._logger.info("unit agent starting", operation=_describe(self.local.operation))
        # Whatever a killed predecessor left running goes before any hook runs again.
        await self._processes.reap()
        try:
            self._sync_workloads()  # after a restart the charm is there already
            async with _toolserver.ToolServer(self.paths.socket) as server:
                self._server = server
                await self._loop()
        finally:
            self._server = None
            self._end_action_logs()
            await asyncio.shield(self._saver.settled())  # the latest record, before the dir goes
            await asyncio.shield(self._workloads.close())
            await asyncio.shield(self._forks.close())
            self._log.close()

    # --- the loop --------------------------------------------------------------------------

    async def _loop(self) -> None:
        await self._publish()
        fetch_failures = 0
        while True:
            await self._durable()
            self._wake.clear()
            self._refused = False  # what was refused is sent again in this pass
            # One pass works on one snapshot: an idle report claims only what it evaluated,
            # and only once that snapshot includes every commit this unit sent.
            remote, revision = self._wanted
            trace = self._trace
            await self._acknowledge(remote, revision)
            await self._adopt_report_seq(remote)
            if self._waiting.app_status and remote.leader:
                await self._send_app_status()
            if remote.commit_seq >= self.local.commit_seq:
                self._seen_revision = revision
            else:  # not settled on this snapshot (nor on any older one)
                self._seen_revision = min(self._seen_revision, max(revision - 1, 0))
            decision = uniter.next_op(
                self.local, remote, self._clock(), self._record.workload_events
            )
            if isinstance(decision, uniter.Removed):
                if self._deliver_log is not None:  # the last hooks' output, before it is gone
                    await self._deliver_log()
                self._removed = True
                self._agent_status = bus.StatusValue(status="idle")
                await self._publish()
                self._logger.info("unit removed")
                return
            if isinstance(decision, uniter.Idle):
                if self._trace == trace:  # settled: later timers start traces of their own
                    self._trace = None
                if self.local.error is None:
                    self._converged = remote.config_hash
                    self._agent_status = bus.StatusValue(status="idle")
                await self._publish()
                await self._wait(decision.wake_at)
                continue
            with _tracing.span(
                "unit agent operation",
                parent=trace,
                attributes={
                    "runecraft.model": self._model.model_name,
                    "runecraft.unit": self.unit,
                    "runecraft.application": remote.application,
                    "runecraft.operation": decision.label,
                    "runecraft.snapshot.revision": revision,
                },
            ):
                executed = await self._execute(decision, remote)
            if executed:
                fetch_failures = 0
            else:
                fetch_failures += 1
                await self._wait(self._clock() + uniter.retry_delay(fetch_failures))

    async def _acknowledge(self, remote: bus.UnitRemoteState, revision: int) -> None:
        """Fold in what the snapshot acknowledges; resend commits a newer snapshot still
        does not show."""
        record = self._record
        local = uniter.observe(record.local, remote)
        pending = tuple(c for c in record.pending_commits if c.seq > remote.commit_seq)
        if local != record.local or pending != record.pending_commits:
            self._keep(dataclasses.replace(record, local=local, pending_commits=pending))
        for seq in [seq for seq in self._commit_sent if seq <= remote.commit_seq]:
            del self._commit_sent[seq]
        for commit in pending:
            if self._commit_sent.get(commit.seq, -1) < revision:
                self._logger.info(
                    "resending commit", seq=commit.seq, acknowledged=remote.commit_seq
                )
                await self._send_commit(commit)

    async def _adopt_report_seq(self, remote: bus.UnitRemoteState) -> None:
        """Count on from what the controller accepted when this agent is behind it (its
        state was lost) or far beyond it (everything it sends is refused); then report
        again, since what it sent last may have been ignored."""
        seq = sequencing.agent_seq(self._seq, remote.report_seq)
        if seq == self._seq:
            return
        self._logger.info("report counter moved", seq=self._seq, accepted=remote.report_seq)
        self._seq = seq
        if self._loaded:
            self._keep(dataclasses.replace(self._record, report_seq_reserved=seq + SEQ_BLOCK))
        self._last_sent = None
        if self._record.app_status is not None and remote.leader:
            await self._send_app_status()
        await self._publish()

    async def _wait(self, wake_at: float | None) -> None:
        """Sleep until `wake_at` or until `update()`/`poke()` is called."""
        timeout = None if wake_at is None else max(wake_at - self._clock(), 0.0)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wake.wait()

    async def _execute(self, op: uniter.Operation, remote: bus.UnitRemoteState) -> bool:
        """Prepare, run and commit one operation; False if preparing failed (retry later)."""
        log = self._logger.bind(op=op.id, hook=op.label, kind=op.kind.value)
        if op.kind not in (uniter.OpKind.RUN_HOOK, uniter.OpKind.RUN_ACTION):
            log.info("committing without running anything")
            await self._finish(op, remote, uniter.Outcome(succeeded=True, at=self._clock()))
            return True

        before = self.local
        record = self._record
        self._keep(
            dataclasses.replace(
                record,
                local=uniter.record_step(before, op, uniter.Step.QUEUED),
                # From here the operation carries its workload event (an error retries it).
                workload_events=uniter.take_workload(record.workload_events, op),
            )
        )
        # Storage attaches before install, so its hooks may be the first to need the charm.
        first_storage = bool(op.storage_id) and not before.installed
        needs_charm = op.hook in (uniter.INSTALL, uniter.UPGRADE_CHARM) or first_storage
        if needs_charm:
            if not await self._prepare_charm(op, log):
                return False
            self._sync_workloads()
        if (status := uniter.status_before(before, op)) is not None:
            self._keep(dataclasses.replace(self._record, workload=status))
        # The run's id is on disk before it runs, so a re-run after a crash is a new id.
        self._keep(dataclasses.replace(self._record, hook_runs=self._record.hook_runs + 1))
        self._save(uniter.record_step(self.local, op, uniter.Step.RUNNING))
        doing = f"running action {op.action_name}" if op.is_action else f"running {op.hook} hook"
        # Executing from here: while the step waits for the disk, the unit is not idle.
        self._agent_status = bus.StatusValue(status="executing", message=doing)
        await self._durable()  # a hook starts only once its running step is on disk
        await self._publish()

        log.info("running")
        outcome, ctx, result = await self._run(op, remote)
        after = uniter.status_after(before, op, outcome)
        await self._finish(op, remote, outcome, ctx, result)
        await self._send_run(op, before, remote, result)
        if after is not None:
            self._keep(dataclasses.replace(self._record, workload=after))
        error = self.local.error
        if error is not None:
            if not op.is_action:
                log.warning("hook failed", retry_at=error.retry_at)
            self._agent_status = bus.StatusValue(
                status="error", message=f'hook failed: "{error.hook}"'
            )
        await self._publish()
        return True

    async def _prepare_charm(self, op: uniter.Operation, log: _logging.Logger) -> bool:
        """Fetch, verify and deploy the charm into the persistent charm dir."""
        try:
            archive = await self._charms.fetch(op.charm_sha)
            digest = hashlib.sha256(archive).hexdigest()
            if digest != op.charm_sha:
                raise errors.PermanentError(
                    f"charm archive has sha256 {digest}, expected {op.charm_sha}"
                )
            await asyncio.to_thread(
                _operations.deploy_charm,
                archive,
                self.paths.charm,
                self.paths.manifest,
                self._unpack,
            )
        except (errors.RunecraftError, OSError, ValueError) as exc:
            message = exc.message if isinstance(exc, errors.RunecraftError) else str(exc)
            log.warning("cannot prepare charm", error=message)
            self._agent_status = bus.StatusValue(
                status="error", message=f"cannot download charm: {message}"
            )
            await self._publish()
            return False
        return True

    def _make_context(
        self, op: uniter.Operation, remote: bus.UnitRemoteState, action: _context.ActionRun | None
    ) -> _context.HookContext:
        name = op.action_name if op.is_action else op.hook
        return _context.build(
            remote=remote,
            relations=self.local.relations,
            hook_relation=_operations.hook_relation(op),
            relation_event=op.relation_event,
            pending=self._record.pending_commits,
            ports=self._record.ports,
            id=f"{self.unit}-{name}-{secrets.token_urlsafe(24)}",
            hook=op.hook,
            charm_dir=self.paths.charm,
            log=self._log,
            backend=_Backend(self),
            model_uuid=self._model.model_uuid,
            unit_status=self._record.workload or INITIAL_WORKLOAD,
            app_status=self._record.app_status or bus.StatusValue(status="unknown"),
            action=action,
            storage=self._storage_views(remote, op),
            storage_id=op.storage_id,
            resources={resource.name: resource for resource in remote.resources},
            resource_root=self.paths.base / "resources",
            resource_fetch=(
                self._resource_source.fetch_resource if self._resource_source else None
            ),
            credential_fetch=(
                functools.partial(self._resource_source.fetch_credential, self.unit)
                if self._resource_source
                else None
            ),
        )

    def _storage_views(
        self, remote: bus.UnitRemoteState, op: uniter.Operation
    ) -> dict[str, _context.StorageView]:
        """The unit's storage instances and where they live (plus the hook's own, even if
        the controller no longer lists it)."""
        kinds = {instance.id: instance.kind for instance in remote.storage}
        if op.storage_id:
            kinds.setdefault(op.storage_id, "filesystem")
        return {
            storage_id: _context.StorageView(
                kind=kind, location=str(self.paths.storage(storage_id))
            )
            for storage_id, kind in sorted(kinds.items())
        }

    def _storage_env(self, op: uniter.Operation) -> hookrunner.StorageEnv | None:
        """`JUJU_STORAGE_*` of a storage hook; the instance's directory exists before
        `-storage-attached` runs (the local substrate's "mount")."""
        if not op.storage_id:
            return None
        location = self.paths.storage(op.storage_id)
        if op.hook.endswith(f"-storage-{uniter.STORAGE_ATTACHED}"):
            location.mkdir(parents=True, exist_ok=True)
        return hookrunner.StorageEnv(id=op.storage_id, location=str(location))

    async def _run(
        self, op: uniter.Operation, remote: bus.UnitRemoteState
    ) -> tuple[uniter.Outcome, _context.HookContext, hookrunner.HookResult]:
        assert self._server is not None
        action: _context.ActionRun | None = None
        action_env: hookrunner.ActionEnv | None = None
        if op.is_action:
            request = next((a for a in remote.actions if a.id == op.action_id), None)
            params = dict(request.params) if request is not None else {}
            action = _context.ActionRun(id=op.action_id, name=op.action_name, params=params)
            action_env = hookrunner.ActionEnv(name=op.action_name, id=op.action_id)
        ctx = self._make_context(op, remote, action)
        if op.hook == uniter.SECRET_ROTATE:
            # The controller schedules the next rotation once this hook succeeded.
            ctx.secret_op(SecretOp(op="rotated", id=op.secret_id))
        env = hookrunner.hook_environment(
            self._unit_env,
            hook=op.hook,
            context_id=ctx.id,
            relation=ctx.relation,
            action=action_env,
            storage=self._storage_env(op),
            workload=op.workload,
            containers_dir=self._workloads.containers_dir if self._containers else None,
        )
        env.update(_secret_env(op))
        async with self._hook_lock:
            started, clock = self._clock(), time.monotonic()
            with (
                _tracing.span("hook", attributes=_hook_attributes(op, remote)),
                self._server.serving(ctx) as binding,
            ):
                env.update(_tracing.hook_environment())  # the hook span: the process's parent
                if action is not None and op.action_name == exec_schema.JUJU_EXEC:
                    result = await self._run_exec(action, env, binding.started)
                else:
                    result = await hookrunner.run_hook(
                        charm_dir=self.paths.charm,
                        hook=op.hook,
                        env=env,
                        log=self._log,
                        action=op.action_name if op.is_action else None,
                        forks=self._forks if remote.fork_hooks else None,
                        on_start=binding.started,
                        records=self._processes,
                    )
                    if self._hook_ran is not None and not op.is_action:
                        seconds = time.monotonic() - clock
                        self._hook_ran(remote.charm.name, op.hook, result.outcome.value, seconds)
                _tracing.set_attributes({"runecraft.hook.outcome": result.outcome.value})
            self._ran = _hookrecord.Ran(started, time.monotonic() - clock, env, binding.calls)
        outcome = uniter.Outcome(
            # The unit never enters error for an action; its outcome goes to the controller.
            succeeded=result.ok or op.is_action,
            at=self._clock(),
            status_set=ctx.status_set_called,
            jitter=random.random(),
        )
        return outcome, ctx, result

    async def _send_run(
        self,
        op: uniter.Operation,
        before: uniter.LocalState,
        remote: bus.UnitRemoteState,
        result: hookrunner.HookResult,
    ) -> None:
        """Send the record of the run that just ended (`schemas.hooks`)."""
        ran, self._ran = self._ran, None
        if ran is None:
            return
        try:
            run = ran.record(
                self.unit,
                self._record.hook_runs,
                _hookrecord.cause(op, before, remote),
                hook=op.label,
                exit_code=result.exit_code,
                outcome=result.outcome.value,
            )
        except ValueError as exc:  # a record is a log: it never stops the unit
            self._logger.warning("cannot record hook run", hook=op.label, error=str(exc))
            return
        self._recent_runs = [*self._recent_runs[-(RESEND_RUNS - 1) :], run]
        await self._outbox.send(run)

    async def _run_exec(
        self, action: _context.ActionRun, env: Mapping[str, str], on_start: Callable[[int], None]
    ) -> hookrunner.HookResult:
        """A `juju exec` command in hook context (Juju sets no dispatch path or hook name)."""
        try:
            params = exec_schema.ExecParams.parse(action.params)
        except errors.InvalidSpecError as exc:
            return hookrunner.HookResult(outcome=hookrunner.HookOutcome.FAILED, message=exc.message)
        exec_env = {
            k: v for k, v in env.items() if k not in ("JUJU_DISPATCH_PATH", "JUJU_HOOK_NAME")
        }
        return await hookrunner.run_command(
            charm_dir=self.paths.charm,
            command=params.command,
            env=exec_env,
            log=self._log,
            timeout=params.timeout,
            on_start=on_start,
            records=self._processes,
        )

    async def _finish(
        self,
        op: uniter.Operation,
        remote: bus.UnitRemoteState,
        outcome: uniter.Outcome,
        ctx: _context.HookContext | None = None,
        result: hookrunner.HookResult | None = None,
    ) -> None:
        """Commit an operation: persist its local effects together with its `HookCommit`
        (if it has anything to say), then send the commit."""
        parts: _context.CommitParts | None = None
        if ctx is not None and result is not None and result.ok:
            parts = ctx.commit_parts()  # a failed process's writes are dropped
        action: bus.ActionOutcome | None = None
        if op.kind is uniter.OpKind.FAIL_ACTION:
            run = _context.ActionRun(id=op.action_id, name=op.action_name, params={})
            action = _operations.action_outcome(
                run, None, unit=self.unit, message=uniter.ACTION_TERMINATED
            )
        elif op.is_action and ctx is not None and ctx.action is not None:
            action = _operations.action_outcome(ctx.action, result, unit=self.unit)
        if op.is_action:
            self._end_action_logs()
        commit: bus.HookCommit | None = None
        if outcome.succeeded and (
            action is not None or uniter.scope_change(op) or (parts is not None and not parts.empty)
        ):
            commit = _operations.make_commit(
                unit=self.unit, seq=self.local.commit_seq + 1, op=op, parts=parts, action=action
            )
            app_written = parts.app_written if parts is not None else ()
            outcome = dataclasses.replace(outcome, commit_seq=commit.seq, app_written=app_written)
        record = self._record
        self._keep(
            dataclasses.replace(
                record,
                local=uniter.commit(record.local, op, outcome),
                pending_commits=(
                    record.pending_commits if commit is None else (*record.pending_commits, commit)
                ),
                ports=record.ports if parts is None else parts.ports,
            )
        )
        if commit is not None:
            await self._durable()  # sent only once it is on disk
            await self._send_commit(commit)

    async def _send_commit(self, commit: bus.HookCommit) -> None:
        if commit.seq > self._saved_commit_seq:
            return  # not on disk yet: `_finish` sends it once it is
        self._commit_sent[commit.seq] = self._wanted[1]
        if not await self._outbox.send(commit):
            del self._commit_sent[commit.seq]  # the next pass sends it again
            self._refused = True

    # --- state and reports -----------------------------------------------------------------

    def _save(self, local: uniter.LocalState) -> None:
        self._keep(dataclasses.replace(self._record, local=local))

    def _keep(self, record: _state_store.UnitRecord) -> None:
        """Take `record` and have it saved off the loop (`_durable` awaits it on disk)."""
        self._record = record
        self._saver.keep(record)

    def _saved(self, record: _state_store.UnitRecord, error: OSError | None) -> None:
        """A write ended: the disk holds `record` now, or could not take it."""
        if error is not None:
            if self._unsaved is None:  # an outage starts (logged once); `_durable` counts on
                self._outage.failed(error, unit=self.unit)
            self._unsaved = error
            return
        self._saved_commit_seq = record.local.commit_seq
        if self._unsaved is not None:
            self._unsaved = None
            self._outage.recovered(unit=self.unit)

    async def saved(self) -> None:
        """Return once the latest record kept has been written (or its write failed)."""
        await self._saver.settled()

    async def _durable(self) -> None:
        """Return once the latest record is on disk, retrying with back-off while it cannot
        be saved (the agent status's message says why meanwhile)."""
        await self._saver.settled()
        if self._unsaved is None:
            return
        shown = self._agent_status
        while self._unsaved is not None:
            self._agent_status = bus.StatusValue(
                status=shown.status,
                message=f"cannot save unit state, retrying: {_reason(self._unsaved)}",
            )
            await self._publish()
            await asyncio.sleep(self._outage.delay)
            self._keep(self._record)
            await self._saver.settled()
            if self._unsaved is not None:  # only these retries count: one doubling a pass
                self._outage.failed(self._unsaved, unit=self.unit)
        self._agent_status = shown
        await self._publish()

    async def _apply(
        self,
        *,
        workload: bus.StatusValue | None = None,
        app_status: bus.StatusValue | None = None,
        workload_version: str | None = None,
    ) -> None:
        """Persist and report at once what a hook tool changed (status-set & co.)."""
        record = self._record
        if workload is not None:
            record = dataclasses.replace(record, workload=workload)
        if app_status is not None:
            record = dataclasses.replace(record, app_status=app_status)
        if workload_version is not None:
            record = dataclasses.replace(record, workload_version=workload_version)
        self._keep(record)
        if app_status is not None:
            await self._send_app_status()
        await self._publish()

    def _workload(self) -> bus.StatusValue:
        error = self.local.error
        if error is not None:
            return bus.StatusValue(status="error", message=f'hook failed: "{error.hook}"')
        return self._record.workload or INITIAL_WORKLOAD

    def _next_seq(self) -> int:
        """The next report number; a block of them is reserved in the unit's state first
        (before the state is loaded, nothing is saved: such a report is stale anyway)."""
        self._seq += 1
        if self._loaded and self._seq > self._record.report_seq_reserved:
            self._keep(
                dataclasses.replace(self._record, report_seq_reserved=self._seq + SEQ_BLOCK - 1)
            )
        return self._seq

    async def _publish(self) -> None:
        """Send a full report if anything reported changed since the last one."""
        fields = (
            self._workload(),
            self._agent_status,
            self._record.workload_version,
            self._converged,
            self._seen_revision,
            self._removed,
        )
        if fields == self._last_sent:
            return
        self._last_sent = fields
        await self._send_report()

    async def _send_report(self) -> None:
        """Send the full report; one the outbox refused is sent again on the next pass."""
        if await self._outbox.send(self.report()):
            return
        self._last_sent = None
        self._refused = True

    async def _send_app_status(self) -> None:
        """Send the latest application status (while leading) with a fresh number: the
        controller keeps the newest number it applied, so a resend neither counts as a replay
        nor undoes a newer status. One the outbox refused goes on the next pass."""
        status = self._record.app_status
        self._waiting.app_status = False
        if status is None:
            return
        report = bus.AppStatusReport(
            application=self.remote.application, unit=self.unit, seq=self._next_seq(), status=status
        )
        if not await self._outbox.send(report):
            self._waiting.app_status = True
            self._refused = True

    async def _leader_set(self, settings: Mapping[str, str]) -> None:
        """Send `leader-set`'s settings, waiting while the outbox refuses them (offered
        again whenever the unit is poked): as in Juju, the tool returns only once the
        settings are on their way for good (the outbox keeps a message it took across
        reconnects), or fails having written nothing.

        Raises:
            UnavailableError: the outbox took nothing for `leader_set_wait` seconds.
        """
        async with self._waiting.leader_sets:
            message = bus.LeaderSet(unit=self.unit, seq=self._next_seq(), settings=dict(settings))
            try:
                async with asyncio.timeout(self.leader_set_wait):
                    while not await self._outbox.send(message):
                        self._refused = True
                        self._waiting.room.clear()
                        await self._waiting.room.wait()
            except TimeoutError:
                raise errors.UnavailableError(
                    "cannot write settings: the link to the controller took nothing for "
                    f"{self.leader_set_wait:g} seconds (its outbox is full); nothing was written"
                ) from None

    def _flush_action_logs_later(self) -> None:
        """Send the waiting `action-log` lines whenever the unit is poked, until none waits
        or the action ends."""
        waiting = self._waiting
        if waiting.action_log_flusher is None or waiting.action_log_flusher.done():
            waiting.action_log_flusher = asyncio.create_task(self._flush_action_logs())

    async def _flush_action_logs(self) -> None:
        waiting = self._waiting
        while waiting.action_logs.waiting:
            waiting.room.clear()
            await waiting.room.wait()
            if not await waiting.action_logs.flush():
                self._refused = True

    def _end_action_logs(self) -> None:
        """The action ended: its outcome carries its whole log, so nothing waits any more."""
        waiting = self._waiting
        if waiting.action_log_flusher is not None:
            waiting.action_log_flusher.cancel()
            waiting.action_log_flusher = None
        waiting.action_logs.clear()

    def _sync_workloads(self) -> None:
        """Watch (and on machines run) the deployed charm's workload containers."""
        containers = _workloads.charm_containers(self.paths.charm)
        self._containers = containers
        try:
            self._workloads.sync(containers)
        except errors.RunecraftError as exc:
            self._logger.error("cannot set up workload containers", error=exc.message)
            self._log.write("ERROR", "uniter", f"cannot set up workload containers: {exc.message}")
        if containers and not self._warned_pebble and not self._pebble_reachable():
            self._warned_pebble = True
            message = (
                f"charm declares containers ({', '.join(containers)}) but its hooks do not run "
                "through the fork server (a standard ops dispatch with the model's "
                "hook-fork-server on), so they cannot reach Pebble off Kubernetes"
            )
            self._logger.warning(message)
            self._log.write("WARNING", "uniter", message)

    def _pebble_reachable(self) -> bool:
        """Hooks find the sockets at `/charm/containers`, or are forked by a server that
        reroutes ops' socket paths there (`_zygote`)."""
        if self._workloads.containers_dir == _workloads.KUBERNETES_CONTAINERS_DIR:
            return True
        path = f"{self._unit_env.tools_dir}{os.pathsep}{self._unit_env.agent_path}"
        forked = _forkserver.entrypoint(self.paths.charm, path) is not None
        return self.remote.fork_hooks and forked

    def remove_dir(self) -> None:
        """Delete the unit directory (after the controller forgot the removed unit)."""
        shutil.rmtree(self.paths.base, ignore_errors=True)
        if self._workloads.daemons:
            shutil.rmtree(self._workloads.containers_dir, ignore_errors=True)
        if self.paths.socket.parent != self.paths.base:
            shutil.rmtree(self.paths.socket.parent, ignore_errors=True)


class _WorkloadSink:
    """`_workloads.WorkloadSink` over the unit's record: every queued event is persisted
    at once (with its cursor), beside (never inside) the local state an operation commits;
    a cursor that moved without an event waits in memory for the next write."""

    def __init__(self, agent: UnitAgent) -> None:
        self._agent = agent

    def notice_cursor(self, container: str) -> str:
        return self._agent._record.notice_cursors.get(container, "")

    def pending(self, container: str) -> int:
        events = self._agent._record.workload_events
        return sum(1 for event in events if event.container == container)

    def deliver(
        self,
        container: str,
        events: Sequence[uniter.WorkloadEvent],
        cursor: str | None = None,
    ) -> None:
        agent = self._agent
        record = agent._record
        pending, seq = record.workload_events, record.workload_seq
        for event in events:
            pending, seq = uniter.queue_workload(pending, seq, event)
        cursors = record.notice_cursors
        if cursor is not None:
            cursors = {**cursors, container: cursor}
        if pending == record.workload_events:
            # Nothing to run: no fsync for the cursor (re-reading its notices is harmless).
            agent._record = dataclasses.replace(record, notice_cursors=cursors)
            return
        agent._keep(
            dataclasses.replace(
                record, workload_events=pending, workload_seq=seq, notice_cursors=cursors
            )
        )
        for event in pending[len(record.workload_events) :]:
            agent._logger.info("workload event queued", hook=event.hook, seq=event.seq)
        agent.poke()


def _hook_attributes(op: uniter.Operation, remote: bus.UnitRemoteState) -> _tracing.Attributes:
    return {
        "runecraft.unit": remote.unit,
        "runecraft.application": remote.application,
        "runecraft.hook": op.action_name if op.is_action else op.hook,
        "runecraft.config_hash": remote.config_hash,
    }


def _secret_env(op: uniter.Operation) -> dict[str, str]:
    """`JUJU_SECRET_ID/LABEL` of secret hooks, and `JUJU_SECRET_REVISION` for
    `secret-remove`/`secret-expired` (charm-contract §2)."""
    if not op.secret_id:
        return {}
    env = {"JUJU_SECRET_ID": f"secret:{op.secret_id}", "JUJU_SECRET_LABEL": op.secret_label}
    if op.hook in (uniter.SECRET_REMOVE, uniter.SECRET_EXPIRED):
        env["JUJU_SECRET_REVISION"] = str(op.secret_revision)
    return env


def _reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


def _describe(op: uniter.Operation | None) -> str:
    if op is None:
        return "none"
    return f"{op.id}:{op.kind.value}:{op.hook}:{op.step.value}"
