"""The layer stack and the current plan (pebble.md §3.6, §4.2).

Base layers come from `$PEBBLE/layers` at start; API layers are added on top and live in
memory only, as in Pebble. Adding a layer never starts or stops services, but every plan
change is announced to the listeners (the check manager restarts changed checks).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

from . import _plan

__all__ = ["LabelExistsError", "PlanListener", "PlanManager"]

PlanListener = Callable[[_plan.Plan], None]


class LabelExistsError(Exception):
    """`add_layer` without combine for a label already in the stack."""

    def __init__(self, label: str) -> None:
        super().__init__(f'layer "{label}" already exists')
        self.label = label


class PlanManager:
    """Holds the layers and the plan they make; tells listeners of each new plan."""

    def __init__(self, layers_dir: Path) -> None:
        self._layers_dir = layers_dir
        self._layers: list[_plan.Layer] = []
        self._plan = _plan.Plan()
        self._listeners: list[PlanListener] = []

    @property
    def plan(self) -> _plan.Plan:
        return self._plan

    @property
    def layers(self) -> Sequence[_plan.Layer]:
        return tuple(self._layers)

    def add_listener(self, listener: PlanListener) -> None:
        """Call `listener(plan)` after every successful load or layer addition."""
        self._listeners.append(listener)

    def load(self) -> None:
        """Read the base layers from the layers directory (a missing one has none);
        `PlanError` if a layer or the plan they make is invalid."""
        layers = _plan.read_layers_dir(self._layers_dir)
        self._update(layers)

    def add_layer(self, layer: _plan.Layer, combine: bool) -> None:
        """Append `layer`, or with `combine` fold it into the stored layer of its label
        (which keeps its place). `LabelExistsError`, or `PlanError` when the plan it would make
        is invalid: either way the old plan stays."""
        labels = [existing.label for existing in self._layers]
        if layer.label in labels and not combine:
            raise LabelExistsError(layer.label)
        layers = list(self._layers)
        if layer.label in labels:
            index = labels.index(layer.label)
            found = layers[index]
            combined = _plan.combine_layers([found, layer])
            layers[index] = dataclasses.replace(combined, label=found.label, order=found.order)
        else:
            order = (layers[-1].order // 1000 + 1) * 1000 if layers else 1000
            layers.append(dataclasses.replace(layer, order=order))
        self._update(layers)

    def _update(self, layers: list[_plan.Layer]) -> None:
        plan = _plan.build_plan(layers)
        self._layers = layers
        self._plan = plan
        for listener in self._listeners:
            listener(plan)
