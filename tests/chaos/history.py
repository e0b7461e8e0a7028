"""The history checker: every committed hook of every unit against Juju's rules.

Pure: it reads the histories the chaos charm (tests/charms/chaos) commits in its charm state,
one list of entries per unit, and returns every violation it finds (none is the goal). An
entry is `<hook>[,<relation id>[,<remote unit or app>[,<value seen>]]]`, or for
`config-changed` and `leader-settings-changed` `<hook>,<value seen>`.

Rules (charm-contract §3.3, Juju's resolver):
- exactly once: a hook with the same identity is never committed twice (a duplicate means a
  hook committed twice, or a committed hook ran again). Identity: the hook alone for
  install/start/stop/remove; with the relation for -created/-broken; with the remote unit
  for -joined/-departed; with the remote unit (or app) and the value it read for -changed;
  with the value for config-changed. Leader hooks may legitimately repeat; not checked.
- lifecycle: install first; config-changed before start; start before any relation hook
  but -created;
- per relation: -created before anything else of it; for each remote unit, -joined before
  its -changed and -departed; every joined unit departed before -broken; nothing after
  -broken;
- teardown: after stop only remove; after remove nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Entry", "Violation", "check", "check_unit", "parse"]

LEADER_HOOKS = frozenset({"leader-elected", "leader-settings-changed", "update-status"})
RELATION_KINDS = ("created", "joined", "changed", "departed", "broken")


@dataclass(frozen=True)
class Entry:
    """One committed hook, as the chaos charm recorded it."""

    hook: str
    fields: tuple[str, ...] = ()

    @property
    def relation_kind(self) -> str | None:
        """`joined` for `<ep>-relation-joined`; None for a hook that is not a relation's."""
        head, sep, kind = self.hook.rpartition("-relation-")
        return kind if sep and head and kind in RELATION_KINDS else None

    @property
    def relation(self) -> str:
        return self.fields[0] if self.fields else ""

    @property
    def remote(self) -> str:
        return self.fields[1] if len(self.fields) > 1 else ""

    def identity(self) -> tuple[str, ...] | None:
        """What makes this hook one commit (None: may repeat)."""
        if self.hook in LEADER_HOOKS:
            return None
        return (self.hook, *self.fields)

    def __str__(self) -> str:
        return ",".join((self.hook, *self.fields))


@dataclass(frozen=True)
class Violation:
    unit: str
    index: int
    """Position of the offending entry in the unit's history."""
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.unit} #{self.index} [{self.rule}] {self.detail}"


def parse(history: str) -> list[Entry]:
    """The entries of a `history` state value (space-separated)."""
    entries = []
    for word in history.split():
        hook, *fields = word.split(",")
        entries.append(Entry(hook, tuple(fields)))
    return entries


def check(histories: Mapping[str, Sequence[Entry]]) -> list[Violation]:
    """Every violation in the histories of all units."""
    found: list[Violation] = []
    for unit in sorted(histories):
        found.extend(check_unit(unit, histories[unit]))
    return found


class _Unit:
    """What one unit has committed so far, while its history is walked."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.seen: dict[tuple[str, ...], int] = {}
        self.hooks: set[str] = set()
        self.created: set[str] = set()
        self.broken: set[str] = set()
        self.joined: dict[str, set[str]] = {}
        self.departed: dict[str, set[str]] = {}
        self.found: list[Violation] = []

    def flag(self, index: int, rule: str, detail: str) -> None:
        self.found.append(Violation(self.name, index, rule, detail))


def check_unit(unit: str, history: Iterable[Entry]) -> list[Violation]:
    """Every violation in one unit's history."""
    state = _Unit(unit)
    for index, entry in enumerate(history):
        _exactly_once(state, index, entry)
        _lifecycle(state, index, entry)
        if entry.relation_kind is not None:
            _relation(state, index, entry, entry.relation_kind)
        state.hooks.add(entry.hook)
    return state.found


def _exactly_once(state: _Unit, index: int, entry: Entry) -> None:
    identity = entry.identity()
    if identity is None:
        return
    if identity in state.seen:
        state.flag(
            index, "exactly-once", f"{entry} committed again (first #{state.seen[identity]})"
        )
    else:
        state.seen[identity] = index


def _lifecycle(state: _Unit, index: int, entry: Entry) -> None:
    hooks = state.hooks
    if "remove" in hooks:
        state.flag(index, "teardown", f"{entry} after remove")
    elif "stop" in hooks and entry.hook != "remove":
        state.flag(index, "teardown", f"{entry} after stop")
    if entry.hook != "install" and "install" not in hooks:
        state.flag(index, "lifecycle", f"{entry} before install")
    if entry.hook == "start" and "config-changed" not in hooks:
        state.flag(index, "lifecycle", "start before config-changed")
    kind = entry.relation_kind
    if kind not in (None, "created") and "start" not in hooks:
        state.flag(index, "lifecycle", f"{entry} before start")


def _relation(state: _Unit, index: int, entry: Entry, kind: str) -> None:
    rid, remote = entry.relation, entry.remote
    if kind == "created":
        return state.created.add(rid)
    if rid not in state.created:
        state.flag(index, "relation", f"{entry} before {rid} was created")
    if rid in state.broken:
        state.flag(index, "relation", f"{entry} after {rid} was broken")
    joined = state.joined.setdefault(rid, set())
    departed = state.departed.setdefault(rid, set())
    if kind == "joined":
        joined.add(remote)
    elif kind == "departed":
        if remote not in joined:
            state.flag(index, "relation", f"{entry}: {remote} departed before it joined")
        departed.add(remote)
    elif kind == "changed" and "/" in remote:
        if remote not in joined:
            state.flag(index, "relation", f"{entry}: changed before {remote} joined")
        elif remote in departed:
            state.flag(index, "relation", f"{entry}: changed after {remote} departed")
    elif kind == "broken":
        left = sorted(joined - departed)
        if left:
            state.flag(index, "relation", f"{entry} before {', '.join(left)} departed")
        state.broken.add(rid)
    return None
