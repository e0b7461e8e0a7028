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
from collections.abc import Callable
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


def encode_status(document: dict[str, Any]) -> bytes:
    """The document as `encode` writes it (UTF-8), its applications' units given as
    `UnitText` (or documents) spliced in; written as pieces joined once (a 10,000-unit
    document is megabytes: each copy of it counts)."""
    parts: list[str] = []
    add = parts.append

    def members(value: dict[str, Any], write: Callable[[str, Any], None]) -> None:
        if not value:
            add("{}")
            return
        separator = "{"
        for key, member in value.items():
            add(f"{separator}{encode(key)}:")
            separator = ","
            write(key, member)
        add("}")

    def units(value: dict[str, UnitText | dict[str, Any]]) -> None:
        add("{")
        add(
            ",".join(
                [
                    unit.member if type(unit) is UnitText else f"{encode(name)}:{encode(unit)}"
                    for name, unit in value.items()
                ]
            )
        )
        add("}")

    def application(key: str, value: Any) -> None:
        if key == "units":
            units(value)
        else:
            add(encode(value))

    def top(key: str, value: Any) -> None:
        if key == "applications":
            members(value, lambda _, doc: members(doc, application))
        else:
            add(encode(value))

    members(document, top)
    return "".join(parts).encode()
