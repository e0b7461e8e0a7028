"""The hook context: what one running hook (or action) reads, buffers and changes at once.

Reads come from the remote state the operation was chosen with, overlaid with this unit's
own commits the controller has not acknowledged yet (so a hook always sees what earlier
hooks wrote), so they are stable for the whole hook. Writes that Juju makes transactional
(`relation-set`, `state-set/delete`, `open/close-port`) go into buffers here and become ONE
`HookCommit` when the hook exits 0 (`commit_parts`); a failing hook's buffers are dropped.
`status-set`, `application-version-set`, `juju-log`, `leader-set` and `action-log` take
effect at once through the `ContextBackend`.

`build` makes a context from the pieces the unit agent holds; the tools (`tools/…`) use
only the methods here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

import yaml

from runecraft import errors
from runecraft.agents import _relations, _secrets, _unitlog
from runecraft.schemas import bus
from runecraft.schemas import secrets as sec
from runecraft.schemas.resources import ResourceRemote

__all__ = [
    "ActionRun",
    "CommitParts",
    "ContextBackend",
    "HookContext",
    "HookRelation",
    "PortEntry",
    "RelationView",
    "StorageView",
    "build",
    "decode_port",
    "encode_port",
]

RELATION_NOT_FOUND = "relation not found"


class ContextBackend(Protocol):
    """Effects a hook applies immediately (the unit agent reports or sends them at once)."""

    async def set_unit_status(self, status: bus.StatusValue) -> None:
        """The charm set its unit's workload status."""

    async def set_app_status(self, status: bus.StatusValue) -> None:
        """The leader set its application's status."""

    async def set_workload_version(self, version: str) -> None:
        """The charm set the workload version."""

    async def leader_set(self, settings: Mapping[str, str]) -> None:
        """The leader changed leader settings (`""` deletes a key)."""

    async def action_log(self, action_id: str, message: str) -> None:
        """The running action logged progress."""


PortEntry = tuple[str, str]
"""(port range such as `80/tcp`, endpoint) — endpoint `""` means every endpoint."""


def encode_port(entry: PortEntry) -> str:
    """`80/tcp` for every endpoint, `80/tcp@db` for endpoint `db` (the commit's wire form)."""
    port_range, endpoint = entry
    return f"{port_range}@{endpoint}" if endpoint else port_range


def decode_port(text: str) -> PortEntry:
    """The inverse of `encode_port`."""
    port_range, _, endpoint = text.partition("@")
    return port_range, endpoint


@dataclass(frozen=True, kw_only=True)
class HookRelation:
    """The relation a relation hook runs for, as its environment names it (charm-contract §2)."""

    relation_id: int
    endpoint: str
    remote_unit: str = ""
    """Always exported; empty for created/broken and app-level `-changed`."""
    remote_app: str = ""
    departing_unit: str = ""
    """Only exported for `-relation-departed`."""


@dataclass(kw_only=True)
class RelationView:
    """One relation as the running hook sees it (before its own buffered writes)."""

    id: int
    endpoint: str
    remote_app: str
    peer: bool
    members: tuple[str, ...]
    """Remote units in scope for this hook (sorted), as `relation-list` prints them."""
    unit_data: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Remote units' bags, including units that departed while the relation lives."""
    app_data: Mapping[str, str] = field(default_factory=dict)
    """The remote application's bag (for peers: the own application's)."""
    local_unit_data: Mapping[str, str] = field(default_factory=dict)
    local_app_data: Mapping[str, str] | None = None
    """The own application's bag, when this unit may read it (leader, or peers)."""
    remote_model_uuid: str = ""

    @property
    def name(self) -> str:
        """`endpoint:id`, the form `JUJU_RELATION_ID` and `relation-ids` use."""
        return f"{self.endpoint}:{self.id}"


@dataclass(frozen=True, kw_only=True)
class StorageView:
    """One storage instance as `storage-get` shows it."""

    kind: str
    location: str


@dataclass(kw_only=True)
class ActionRun:
    """The action a context runs, and what it produced so far."""

    id: str
    name: str
    params: Mapping[str, Any]
    results: dict[str, Any] = field(default_factory=dict)
    failed: bool = False
    message: str = ""
    log: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class CommitParts:
    """The buffered writes of a hook, ready to become a `HookCommit`."""

    relations: dict[int, bus.RelationWrite]
    state_set: dict[str, str]
    state_delete: tuple[str, ...]
    opened_ports: tuple[str, ...]
    closed_ports: tuple[str, ...]
    app_written: tuple[int, ...]
    ports: tuple[str, ...]
    """The unit's whole set of open ports after this hook (encoded)."""
    secrets: tuple[sec.SecretOp, ...] = ()
    storage_add: dict[str, int] = field(default_factory=dict)

    def writes(self) -> dict[str, Any]:
        """The parts a `HookCommit` carries, by its field names."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _AGENT_ONLY}

    @property
    def empty(self) -> bool:
        """Nothing to send."""
        return not any(self.writes().values())


_AGENT_ONLY = frozenset({"app_written", "ports"})
"""The parts of a hook's writes that serve the agent itself and are not sent."""


@dataclass(kw_only=True)
class HookContext:
    """What the tools of one running hook (or action) see and change."""

    id: str
    """`JUJU_CONTEXT_ID`: the hook's token for the tool socket."""
    hook: str
    """The hook name; empty for actions."""
    remote: bus.UnitRemoteState
    """Remote state the operation was chosen with: reads are stable within a hook."""
    charm_dir: Path
    log: _unitlog.UnitLog
    backend: ContextBackend
    model_uuid: str = ""
    unit_status: bus.StatusValue = field(default_factory=lambda: bus.StatusValue(status="unknown"))
    app_status: bus.StatusValue = field(default_factory=lambda: bus.StatusValue(status="unknown"))
    status_set_called: bool = False
    """The hook called `status-set` for the unit (decides the automatic status after start)."""
    relation: HookRelation | None = None
    relations: dict[int, RelationView] = field(default_factory=dict)
    """Relations visible to this hook, by id."""
    action: ActionRun | None = None
    state: dict[str, str] = field(default_factory=dict)
    """Charm state as committed (plus unacknowledged own commits)."""
    leader_settings: dict[str, str] = field(default_factory=dict)
    ports: frozenset[PortEntry] = frozenset()
    """Open ports as committed before this hook."""
    leader: bool = False
    """Leadership as of the hook's start (Juju guarantees it for 30 s)."""
    relation_writes: dict[int, tuple[dict[str, str], dict[str, str]]] = field(default_factory=dict)
    """Buffered `relation-set`: relation id → (unit bag writes, app bag writes)."""
    state_writes: dict[str, str | None] = field(default_factory=dict)
    """Buffered `state-set` (value) and `state-delete` (None)."""
    port_ops: list[tuple[bool, str, tuple[str, ...]]] = field(default_factory=list)
    """Buffered `open-port` (True) / `close-port` (False): (open, range, endpoints)."""
    secrets: dict[str, _secrets.SecretView] = field(default_factory=dict)
    """Secrets this unit may read, with pending and this hook's changes applied."""
    secret_ops: list[sec.SecretOp] = field(default_factory=list)
    """Buffered `secret-*` changes, in call order."""
    storage: dict[str, StorageView] = field(default_factory=dict)
    """Storage instances attached to the unit, by id (`data/0`)."""
    storage_id: str = ""
    """`JUJU_STORAGE_ID` of a storage hook; empty otherwise."""
    storage_adds: dict[str, int] = field(default_factory=dict)
    """Buffered `storage-add`: storage name → instances to add."""
    resources: dict[str, ResourceRemote] = field(default_factory=dict)
    """The application's attached resources, by name."""
    resource_root: Path | None = None
    """Where `resource-get` puts files (`<unit dir>/resources`)."""
    resource_fetch: Callable[[str], Awaitable[bytes]] | None = None
    """Downloads a resource file by sha256 from the controller."""
    credential_fetch: Callable[[], Awaitable[dict[str, Any]]] | None = None
    """Asks the controller for the unit's cloud spec (`credential-get`; needs trust)."""
    _config_options: tuple[str, ...] | None = None
    _metadata: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not self.leader:
            self.leader = self.remote.leader
        if not self.leader_settings:
            self.leader_settings = dict(self.remote.leader_settings)

    @property
    def unit(self) -> str:
        """`app/N`."""
        return self.remote.unit

    @property
    def application(self) -> str:
        """The unit's application."""
        return self.remote.application

    # --- reads -------------------------------------------------------------------------

    def config_options(self) -> tuple[str, ...]:
        """Option names declared in the charm's `config.yaml` (for `config-get --all`)."""
        if self._config_options is None:
            loaded = _load_yaml(self.charm_dir / "config.yaml")
            options = loaded.get("options") if isinstance(loaded, dict) else None
            self._config_options = tuple(options) if isinstance(options, dict) else ()
        return self._config_options

    def metadata(self) -> dict[str, Any]:
        """The charm's `metadata.yaml` (empty when unreadable)."""
        if self._metadata is None:
            loaded = _load_yaml(self.charm_dir / "metadata.yaml")
            self._metadata = loaded if isinstance(loaded, dict) else {}
        return self._metadata

    def bindings(self) -> tuple[str, ...]:
        """Names `network-get` accepts: every endpoint, extra binding and `juju-info`."""
        meta = self.metadata()
        names = {"juju-info"}
        for section in ("provides", "requires", "peers", "extra-bindings"):
            value = meta.get(section)
            if isinstance(value, dict):
                names.update(str(name) for name in value)
        names.update(view.endpoint for view in self.relations.values())
        return tuple(sorted(names))

    def relation_view(self, relation_id: int) -> RelationView:
        """A visible relation, or `relation not found`."""
        view = self.relations.get(relation_id)
        if view is None:
            raise errors.NotFoundError(RELATION_NOT_FOUND)
        return view

    def own_unit_bag(self, relation_id: int) -> dict[str, str]:
        """This unit's bag including this hook's uncommitted writes."""
        view = self.relation_view(relation_id)
        unit_writes, _ = self.relation_writes.get(relation_id, ({}, {}))
        return bus.merge_settings(view.local_unit_data, unit_writes)

    def own_app_bag(self, relation_id: int) -> dict[str, str]:
        """The own application's bag including this hook's uncommitted writes."""
        view = self.relation_view(relation_id)
        _, app_writes = self.relation_writes.get(relation_id, ({}, {}))
        base = view.local_app_data if view.local_app_data is not None else {}
        return bus.merge_settings(base, app_writes)

    def charm_state(self) -> dict[str, str]:
        """Charm state including this hook's uncommitted writes."""
        merged = dict(self.state)
        for key, value in self.state_writes.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        return merged

    def current_ports(self) -> frozenset[PortEntry]:
        """Open ports including this hook's pending opens and closes (Juju merges them)."""
        current = set(self.ports)
        for opening, port_range, endpoints in self.port_ops:
            if opening:
                current.update((port_range, endpoint) for endpoint in endpoints or ("",))
            elif endpoints:
                current.difference_update((port_range, endpoint) for endpoint in endpoints)
            else:
                current = {entry for entry in current if entry[0] != port_range}
        return frozenset(current)

    # --- buffered writes ---------------------------------------------------------------

    def secret_op(self, op: sec.SecretOp) -> None:
        """Buffer a secret change; the hook's later reads see it."""
        self.secret_ops.append(op)
        _secrets.apply(self.secrets, op, unit=self.unit)

    def set_relation(self, relation_id: int, values: Mapping[str, str], *, app: bool) -> None:
        """Buffer a `relation-set` (`""` deletes)."""
        unit_writes, app_writes = self.relation_writes.setdefault(relation_id, ({}, {}))
        (app_writes if app else unit_writes).update(values)

    def commit_parts(self) -> CommitParts:
        """The buffered writes as one commit's content."""
        relations = {
            relation_id: bus.RelationWrite(unit=dict(unit), app=dict(app))
            for relation_id, (unit, app) in sorted(self.relation_writes.items())
            if unit or app
        }
        app_written = tuple(
            relation_id for relation_id, (_, app) in sorted(self.relation_writes.items()) if app
        )
        state_set = {k: v for k, v in self.state_writes.items() if v is not None}
        state_delete = tuple(sorted(k for k, v in self.state_writes.items() if v is None))
        after = self.current_ports()
        return CommitParts(
            relations=relations,
            state_set=state_set,
            state_delete=state_delete,
            opened_ports=tuple(sorted(encode_port(entry) for entry in after - self.ports)),
            closed_ports=tuple(sorted(encode_port(entry) for entry in self.ports - after)),
            app_written=app_written,
            ports=tuple(sorted(encode_port(entry) for entry in after)),
            secrets=tuple(self.secret_ops),
            storage_add=dict(self.storage_adds),
        )


def _load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None


def _hook_members(
    state: _relations.RelationState | None, relation: HookRelation | None, event: str
) -> tuple[str, ...]:
    members = set(state.members) if state is not None else set()
    if relation is not None and relation.remote_unit:
        if event == "joined":
            members.add(relation.remote_unit)
        elif event == "departed":
            members.discard(relation.remote_unit)
    if event == "broken":
        members.clear()
    return tuple(sorted(members))


def _pending_writes(pending: Sequence[bus.HookCommit], acknowledged: int) -> list[bus.HookCommit]:
    return [c for c in sorted(pending, key=lambda c: c.seq) if c.seq > acknowledged]


def build(
    *,
    remote: bus.UnitRemoteState,
    relations: Mapping[int, _relations.RelationState],
    hook_relation: HookRelation | None,
    relation_event: str,
    pending: Sequence[bus.HookCommit],
    ports: Iterable[str],
    **fields: Any,
) -> HookContext:
    """A context for one operation.

    Args:
        remote: The remote state the operation was chosen with.
        relations: The unit's relation states before the operation.
        hook_relation: The relation of a relation hook (None otherwise).
        relation_event: `created`, `joined`, ... for relation hooks, else "".
        pending: Commits sent but not yet acknowledged; their writes are visible.
        ports: The unit's committed open ports (encoded).
        **fields: The remaining `HookContext` fields (id, hook, charm_dir, log, ...).
    """
    unacked = _pending_writes(pending, remote.commit_seq)
    by_id = {relation.id: relation for relation in remote.relations}
    visible = {key for key, state in relations.items() if not state.broken}
    if hook_relation is not None:
        visible.add(hook_relation.relation_id)
    views: dict[int, RelationView] = {}
    for relation_id in sorted(visible):
        state = relations.get(relation_id)
        remote_relation = by_id.get(relation_id)
        if remote_relation is None and state is None:
            continue
        is_hook = hook_relation is not None and hook_relation.relation_id == relation_id
        event = relation_event if is_hook else ""
        unit_writes = [c.relations[relation_id].unit for c in unacked if relation_id in c.relations]
        app_writes = [c.relations[relation_id].app for c in unacked if relation_id in c.relations]
        if remote_relation is not None:
            local_app = remote_relation.local_app_data
            if local_app is not None or (remote.leader and app_writes):
                local_app = bus.merge_settings(local_app or {}, *app_writes)
            views[relation_id] = RelationView(
                id=relation_id,
                endpoint=remote_relation.endpoint,
                remote_app=remote_relation.remote_application,
                peer=remote_relation.role == "peer",
                members=_hook_members(state, hook_relation if is_hook else None, event),
                unit_data=remote_relation.unit_data,
                app_data=remote_relation.app_data,
                local_unit_data=bus.merge_settings(remote_relation.local_unit_data, *unit_writes),
                local_app_data=local_app,
                remote_model_uuid=remote_relation.remote_model_uuid,
            )
        else:
            assert state is not None
            views[relation_id] = RelationView(
                id=relation_id,
                endpoint=state.endpoint,
                remote_app=state.remote_app,
                peer=state.peer,
                members=_hook_members(state, hook_relation if is_hook else None, event),
                local_unit_data=bus.merge_settings({}, *unit_writes),
            )
    state_values = dict(remote.state)
    for commit in unacked:
        for key, value in commit.state_set.items():
            state_values[key] = value
        for key in commit.state_delete:
            state_values.pop(key, None)
    return HookContext(
        remote=remote,
        relation=hook_relation,
        relations=views,
        state=state_values,
        ports=frozenset(decode_port(text) for text in ports),
        secrets=_secrets.views(
            remote.secrets, [op for c in unacked for op in c.secrets], unit=remote.unit
        ),
        **fields,
    )
