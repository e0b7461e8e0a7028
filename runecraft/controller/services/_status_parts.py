"""Status rendered in parts: each unit's JSON text is kept from one status of a model to
the next with what it was rendered from, so after one unit's report only that unit's text
is rendered again and the document is the kept texts joined.

Building 10,000 unit documents and encoding them took most of a status after a report;
finding that a unit's record, machine, published revision and leadership are the ones its
text was made from costs a tuple comparison (the store hands back the same record for an
unchanged row, and `same_machines` does the same for machines). The text written is what
`json.dumps` writes for the whole document (compact, not ASCII-escaped, no NaN), so a
document rendered in parts is byte for byte a document rendered whole.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from runecraft.controller.state import ApplicationRecord, MachineRecord, UnitRecord

__all__ = ["UnitDocument", "UnitText", "UnitTexts", "encode_status"]

encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
"""`json.dumps` with the options the status route sends its document with."""


@dataclass(frozen=True, slots=True)
class UnitText:
    """A unit's status document as the JSON member the `units` object holds
    (`"name":{…}`), with whether the unit is settled (the model's `settled` reads it)."""

    member: str
    settled: bool


class UnitDocument(Protocol):
    """Builds one unit's status document (`_status._unit_doc`)."""

    def __call__(
        self,
        unit: UnitRecord,
        app: ApplicationRecord,
        machine: MachineRecord | None,
        published_revision: Callable[[str], int | None],
        *,
        caas: bool = False,
    ) -> dict[str, Any]: ...


class UnitTexts:
    """One model's unit texts, each kept with what it was rendered from. A render keeps
    the texts of the units it shows and forgets the others (`start` … `finish`)."""

    def __init__(self, model_uuid: str, unit_doc: UnitDocument) -> None:
        self.model_uuid = model_uuid
        self._unit_doc = unit_doc
        self._kept: dict[str, tuple[tuple[object, ...], UnitText]] = {}
        self._now: dict[str, tuple[tuple[object, ...], UnitText]] = {}
        self._machines: dict[int, MachineRecord] = {}
        self.rendered = 0
        """Unit texts rendered by the last render (the others were kept)."""

    def same_machines(self, machines: list[MachineRecord]) -> list[MachineRecord]:
        """The machines, each one equal to the last render's replaced by that record, so
        a unit's text is found current by identity rather than field by field."""
        kept = self._machines
        same = [
            known if (known := kept.get(m.number)) is not None and known == m else m
            for m in machines
        ]
        self._machines = {m.number: m for m in same}
        return same

    def start(self) -> None:
        self._now = {}
        self.rendered = 0

    def finish(self) -> None:
        self._kept = self._now
        self._now = {}

    def text(
        self,
        unit: UnitRecord,
        app: ApplicationRecord,
        machine: MachineRecord | None,
        published_revision: Callable[[str], int | None],
        *,
        caas: bool = False,
    ) -> UnitText:
        """The unit's text: the kept one if rendered from the same inputs."""
        published = published_revision(machine.agent) if machine is not None else None
        key = (unit, machine, published, app.leader == unit.name, caas)
        kept = self._kept.get(unit.name)
        if kept is None or kept[0] != key:
            doc = self._unit_doc(unit, app, machine, published_revision, caas=caas)
            kept = (key, UnitText(f"{encode(unit.name)}:{encode(doc)}", doc["settled"]))
            self.rendered += 1
        self._now[unit.name] = kept
        return kept[1]


def _object(members: Iterable[str]) -> str:
    return "{" + ",".join(members) + "}"


def _unit(name: str, unit: UnitText | dict[str, Any]) -> str:
    if isinstance(unit, UnitText):
        return unit.member
    return f"{encode(name)}:{encode(unit)}"


def _application(doc: dict[str, Any]) -> str:
    return _object(
        f"{encode(key)}:"
        + (_object(_unit(n, u) for n, u in value.items()) if key == "units" else encode(value))
        for key, value in doc.items()
    )


def encode_status(document: dict[str, Any]) -> bytes:
    """The document as `encode` writes it (UTF-8), its applications' units given as
    `UnitText` (or documents) spliced in."""
    return _object(
        f"{encode(key)}:"
        + (
            _object(f"{encode(n)}:{_application(a)}" for n, a in value.items())
            if key == "applications"
            else encode(value)
        )
        for key, value in document.items()
    ).encode()
