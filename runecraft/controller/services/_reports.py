"""Unit reports stored as a group: one read of what is not known, one write for all.

The writer of agent messages holds the last report it stored of each unit (`ReportCache`),
so a report is judged in memory (`sequencing.report_verdict`) and a batch of reports reads
nothing back. What it holds is a prediction the write checks: the UPDATE matches a row only
while it is as held (`write_reports`), so a row another writer moved (a status set from a
pod) rolls the batch back (`ReportsMoved`) and it is applied again with those units read
afresh. What a transaction stored is held only once it committed; a unit added or removed
by any writer is dropped (a unit of the same name may be a new one).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from runecraft import errors
from runecraft.controller.services._ports import UnitRows
from runecraft.controller.state import ReportWrite, SeqCheck, StoredReport, UnitKey
from runecraft.schemas import bus, sequencing

__all__ = ["ReportCache", "ReportGroup", "ReportsMoved"]


class ReportsMoved(errors.ConflictError):
    """A unit's stored report was not the one held: the batch's transaction rolls back."""

    def __init__(self, keys: Sequence[UnitKey]) -> None:
        super().__init__("stored unit reports moved while held")
        self.keys = keys


class ReportCache:
    """The last report stored of each unit, as committed through this writer."""

    def __init__(self) -> None:
        self._held: dict[tuple[str, str], tuple[int, StoredReport]] = {}
        """By (model uuid, unit name): the machine it reported from, and the report."""

    def __len__(self) -> int:
        return len(self._held)

    def get(self, key: UnitKey) -> StoredReport | None:
        model_uuid, machine_number, name = key
        held = self._held.get((model_uuid, name))
        return held[1] if held is not None and held[0] == machine_number else None

    def keep(self, stored: Mapping[UnitKey, StoredReport | None]) -> None:
        """Hold what a committed transaction stored (None: the unit is gone)."""
        for (model_uuid, machine_number, name), report in stored.items():
            if report is None:
                self._held.pop((model_uuid, name), None)
            else:
                self._held[(model_uuid, name)] = (machine_number, report)

    def forget(self, keys: Iterable[UnitKey]) -> None:
        for model_uuid, _, name in keys:
            self._held.pop((model_uuid, name), None)

    def saw_commit(self, changes: Sequence[tuple[str, str, str]]) -> None:
        """Drop units any committed transaction added or removed."""
        for model_uuid, entity, kind in changes:
            if kind in ("added", "removed") and entity.startswith("unit-"):
                self._held.pop((model_uuid, entity.removeprefix("unit-")), None)


@dataclass(frozen=True)
class _Pending:
    agent: str
    key: UnitKey
    report: bus.UnitReport


@dataclass
class _Known:
    report: StoredReport
    accepted: int | None
    """`accepted_seq` when read (None: held, and every report judged against it lies
    within the window of its number, where the verdict does not depend on it)."""


@dataclass(eq=False)
class ReportGroup:
    """The unit reports of one transaction: judged and written together at `flush`; what
    they stored reaches the cache at `committed`."""

    cache: ReportCache
    _pending: list[_Pending] = field(default_factory=list)
    _stored: dict[UnitKey, StoredReport | None] = field(default_factory=dict)

    def add(self, agent: str, key: UnitKey, report: bus.UnitReport) -> None:
        self._pending.append(_Pending(agent, key, report))

    def gone(self, key: UnitKey) -> None:
        """A unit this transaction removed."""
        self._stored[key] = None

    def committed(self) -> None:
        self.cache.keep(self._stored)

    def _held(self, key: UnitKey) -> StoredReport | None:
        return self._stored[key] if key in self._stored else self.cache.get(key)

    def _to_read(self, pending: Sequence[_Pending]) -> list[UnitKey]:
        """Units not held, or with a report beyond the window of the held number."""
        keys = []
        for item in pending:
            held = self._held(item.key)
            if held is None or item.report.seq > held.seq + sequencing.REPORT_WINDOW:
                keys.append(item.key)
        return keys

    async def flush(
        self, units: UnitRows, now: float
    ) -> list[tuple[str, bus.UnitReport, SeqCheck | None]]:
        """Judge and store the reports added since the last flush, in order; returns each
        with its agent and check (None: no such unit on that machine). Raises
        `ReportsMoved` if a row held was not as held."""
        pending, self._pending = self._pending, []
        if not pending:
            return []
        read = self._to_read(pending)
        known: dict[UnitKey, _Known] = {
            key: _Known(report, accepted)
            for key, (report, accepted) in (await units.stored_reports(read)).items()
        }
        absent = set(read) - set(known)
        judged: list[tuple[str, bus.UnitReport, SeqCheck | None]] = []
        writes: list[ReportWrite] = []
        for item in pending:
            if item.key not in known and item.key not in absent:
                held = self._held(item.key)
                if held is not None:
                    known[item.key] = _Known(held, None)
            now_known = known.get(item.key)
            if now_known is None:
                judged.append((item.agent, item.report, None))
                continue
            stored = now_known.report
            accepted = stored.seq if now_known.accepted is None else now_known.accepted
            check = SeqCheck(
                sequencing.report_verdict(stored.seq, accepted, item.report.seq),
                stored.seq,
                accepted,
            )
            judged.append((item.agent, item.report, check))
            if check.verdict is sequencing.ReportVerdict.APPLY:
                write = ReportWrite(item.key, item.report, stored)
                writes.append(write)
                if now_known.accepted is not None:
                    now_known.accepted = max(now_known.accepted, item.report.seq)
                now_known.report = write.after
        if not await units.write_reports(writes, now):
            raise ReportsMoved([write.key for write in writes])
        self._stored.update(dict.fromkeys(absent))
        self._stored.update({key: entry.report for key, entry in known.items()})
        return judged
