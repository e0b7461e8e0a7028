"""Start and stop order of services, as Pebble's `StartOrder`/`StopOrder` compute it.

The order decides which change tasks wait for which, so it follows Pebble step by step:
the set is closed over `requires` (or, to stop, over the services that require these),
sorted by `after`/`before` with Tarjan's algorithm (a strongly connected component of more
than one service is a loop), and cut into lanes: a service shares the lane of the first of
its requirements already placed, otherwise it opens the lane after the previous service's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

__all__ = ["OrderError", "lanes", "order"]


class OrderError(ValueError):
    """An unknown service or a before/after loop (Pebble's FormatError text)."""


class Ordered(Protocol):
    """What ordering reads of a service."""

    @property
    def after(self) -> Sequence[str]: ...
    @property
    def before(self) -> Sequence[str]: ...
    @property
    def requires(self) -> Sequence[str]: ...


def _missing(name: str) -> OrderError:
    return OrderError(f'service "{name}" does not exist')


def _closure(services: Mapping[str, Ordered], names: Sequence[str], stop: bool) -> list[str]:
    """The services to act on: `names` plus what they require (start) or what requires
    them (stop), transitively, in discovery order."""
    required_by: dict[str, list[str]] = {}
    if stop:
        for name, service in services.items():
            for requirement in service.requires:
                required_by.setdefault(requirement, []).append(name)
    seen: dict[str, None] = {}
    pending = list(names)
    for name in pending:  # grows while iterating, as Pebble's queue does
        if name in seen:
            continue
        seen[name] = None
        if stop:
            pending.extend(required_by.get(name, ()))
        elif name not in services:
            raise _missing(name)
        else:
            pending.extend(services[name].requires)
    return list(seen)


def _successors(
    services: Mapping[str, Ordered], members: Sequence[str], stop: bool
) -> dict[str, list[str]]:
    """For each member, the members that must come before it (its graph successors)."""
    successors: dict[str, list[str]] = {name: [] for name in members}
    for name in sorted(members):
        if name not in services:
            raise _missing(name)
        service = services[name]
        after, before = (service.before, service.after) if stop else (service.after, service.before)
        successors[name].extend(other for other in after if other in successors)
        for other in before:
            if other in successors:
                successors[other].append(name)
    return successors


def _tarjan(successors: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Strongly connected components, each after those it leads to (so in start order);
    iterative, with the visiting order of the recursive algorithm Pebble uses."""
    index: dict[str, int] = {}
    lowlink: list[int] = []
    on_stack: list[bool] = []
    stack: list[str] = []
    output: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = len(lowlink)
        lowlink.append(len(lowlink))
        on_stack.append(True)
        stack.append(node)

    for root in sorted(successors):
        if root in index:
            continue
        visit(root)
        frames: list[tuple[str, int]] = [(root, 0)]
        while frames:
            node, position = frames.pop()
            me = index[node]
            following = successors.get(node, ())
            if position < len(following):
                frames.append((node, position + 1))
                succ = following[position]
                if succ not in index:
                    visit(succ)
                    frames.append((succ, 0))
                elif on_stack[index[succ]]:
                    lowlink[me] = min(lowlink[me], index[succ])
                continue
            if lowlink[me] == me:
                output.append(_pop_component(stack, index, on_stack, me))
            if frames:
                parent = index[frames[-1][0]]
                lowlink[parent] = min(lowlink[parent], lowlink[me])
    return output


def _pop_component(
    stack: list[str], index: Mapping[str, int], on_stack: list[bool], root: int
) -> list[str]:
    component: list[str] = []
    while True:
        node = stack.pop()
        on_stack[index[node]] = False
        component.append(node)
        if index[node] == root:
            return sorted(component) if len(component) > 1 else component


def order(services: Mapping[str, Ordered], names: Sequence[str], *, stop: bool) -> list[str]:
    """The services to start (or stop) for `names`, in the order to do it."""
    members = _closure(services, names, stop)
    ordered: list[str] = []
    for component in _tarjan(_successors(services, members, stop)):
        if len(component) > 1:
            raise OrderError(f"services in before/after loop: {', '.join(component)}")
        ordered.append(component[0])
    return ordered


def lanes(services: Mapping[str, Ordered], ordered: Sequence[str]) -> list[list[str]]:
    """`ordered` cut into lanes that may run in parallel (Pebble's `createLanes`)."""
    lane_of: dict[str, int] = {}
    lane, top = -1, 0
    for name in ordered:
        if name not in services:
            raise _missing(name)
        requires = services[name].requires
        if name in lane_of:
            lane = lane_of[name]
        else:
            placed = [lane_of[dep] for dep in requires if dep in lane_of]
            lane = placed[0] if placed else lane + 1
        lane_of[name] = lane
        for dep in requires:
            lane_of[dep] = lane
        top = max(top, lane)
    result: list[list[str]] = [[] for _ in range(top + 1)]
    for name in ordered:
        result[lane_of[name]].append(name)
    return result
