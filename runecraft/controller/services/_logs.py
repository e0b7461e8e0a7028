"""Logs: batches from agents stored and acknowledged, the controller's own lines stored as
it logs them; long-polled by `debug-log`.

Storing comes before acknowledging, so a line an agent stops re-sending is in the database.
Readers wait on a condition that every stored batch notifies, not on the model revision:
logs wake no reconciler. While the database is unavailable the controller's own lines are
kept (up to `MAX_PENDING`) and tried again with back-off, logged once per outage; agents'
batches are dropped unacknowledged, so each agent sends its batch again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Awaitable, Callable

import structlog

from runecraft import _retry, errors
from runecraft._logging import LogLine
from runecraft.controller.services._names import check_application_name, parse_unit_name
from runecraft.controller.state import Store
from runecraft.controller.state._logs import Appended, LogQuery, LogStore
from runecraft.schemas import bus
from runecraft.schemas.logs import CONTROLLER_MODEL, LogPage, StatusHistoryEntry

__all__ = ["MAX_PENDING", "MAX_WAIT", "STATUS_KINDS", "LogQuery", "LogService"]

logger = structlog.get_logger(__name__)

MAX_WAIT = 30.0
"""Longest a read waits for new lines before answering empty."""

MAX_PENDING = 50_000
"""Controller lines waiting to be stored beyond which new ones are dropped (and counted): a
database that cannot keep up must not take the controller's memory with it."""

STATUS_KINDS = {
    "unit": ("workload", "juju-unit"),
    "workload": ("workload",),
    "juju-unit": ("juju-unit",),
    "application": ("application",),
}
"""`show-status-log --type` values and the kinds of history each shows."""

Publish = Callable[[str, bus.LogAck], Awaitable[bool]]


class LogService:
    """Queues agents' log batches and the controller's lines; stores them in one transaction
    per drain and kind."""

    def __init__(self, store: Store, publish: Publish) -> None:
        self.store = store
        self.logs = LogStore(store)
        self._publish = publish
        self._queue: asyncio.Queue[tuple[str, bus.LogBatch] | LogLine] = asyncio.Queue()
        self._stored = asyncio.Condition()
        self._loop = asyncio.get_running_loop()
        self.dropped = 0
        """Controller lines dropped because too many were waiting."""
        self._machines: dict[str, tuple[str, int]] = {}
        """(model uuid, number) of each agent heard from: looked up once, not per batch
        (an agent's name is its machine's for good; `forget` drops a removed one)."""

    @property
    def waiting(self) -> int:
        """Batches and lines not yet stored."""
        return self._queue.qsize()

    def forget(self, agent: str) -> None:
        """The agent's machine was removed: look it up again if it is heard from."""
        self._machines.pop(agent, None)

    async def _machine(self, agent: str) -> tuple[str, int] | None:
        if agent not in self._machines:
            machine = await self.store.machine_by_agent(agent)
            if machine is None:
                return None
            self._machines[agent] = (machine.model_uuid, machine.number)
        return self._machines[agent]

    def submit(self, agent: str, batch: bus.LogBatch) -> None:
        self._queue.put_nowait((agent, batch))

    def record(self, line: LogLine) -> None:
        """A controller log sink (`runecraft._logging.SINK`): safe from any thread."""
        try:
            here = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            here = False
        if here:
            self._enqueue(line)
        else:
            self._loop.call_soon_threadsafe(self._enqueue, line)

    def _enqueue(self, line: LogLine) -> None:
        if self._queue.qsize() >= MAX_PENDING:
            self.dropped += 1
            return
        self._queue.put_nowait(line)

    async def run(self) -> None:
        """Store and acknowledge batches forever."""
        outage = _retry.Outage("cannot store log lines; retrying (agents send theirs again)")
        kept: list[LogLine] = []
        while True:
            batch: list[tuple[str, bus.LogBatch] | LogLine] = [*kept]
            if not batch:
                batch.append(await self._queue.get())
            while not self._queue.empty() and len(batch) < 500:
                batch.append(self._queue.get_nowait())
            own = [item for item in batch if isinstance(item, LogLine)]
            try:
                kept = own
                if own:
                    await self.logs.append_controller(own)
                kept = []
                await self._store_batch([item for item in batch if not isinstance(item, LogLine)])
            except errors.TemporaryError as exc:
                await asyncio.sleep(outage.failed(exc))
                continue
            outage.recovered()

    async def _store_batch(self, items: list[tuple[str, bus.LogBatch]]) -> None:
        """Store agents' batches (one transaction for all), acknowledging each agent's once
        stored."""
        by_agent: dict[str, list[bus.LogBatch]] = defaultdict(list)
        for agent, batch in items:
            by_agent[agent].append(batch)
        sent: dict[tuple[str, int], list[bus.LogBatch]] = defaultdict(list)
        agents: dict[tuple[str, int], list[str]] = defaultdict(list)
        for agent, batches in by_agent.items():
            machine = await self._machine(agent)
            if machine is None:
                logger.warning("log batch from unknown agent", agent=agent)
                continue
            sent[machine] += batches
            agents[machine].append(agent)
        appended = await self.logs.append_all(dict(sent)) if sent else {}
        for machine, done in appended.items():
            for agent in agents[machine]:
                await self._acknowledge(agent, done)
        async with self._stored:
            self._stored.notify_all()

    async def _acknowledge(self, agent: str, appended: Appended) -> None:
        for refused in appended.refused:
            logger.warning(
                "log batch from the future refused",
                agent=agent,
                source=refused.source,
                generation=refused.generation,
                offset=refused.offset,
                end=refused.end,
                held_generation=refused.cursor.generation,
                held_offset=refused.cursor.offset,
            )
        for source, cursor in appended.held.items():
            ack = bus.LogAck(source=source, offset=cursor.offset, generation=cursor.generation)
            await self._publish(agent, ack)

    async def read(
        self,
        model: str,
        query: LogQuery,
        *,
        after: int | None,
        last: int | None,
        limit: int,
        wait: float,
    ) -> LogPage:
        """Lines of `model` (see `LogStore.read`; `controller`: the controller's own log);
        with nothing new after `after`, waits up to `wait` seconds for some."""
        uuid = (
            CONTROLLER_MODEL if model == CONTROLLER_MODEL else (await self.store.model(model)).uuid
        )
        start = await self.logs.newest(uuid) if after is None else after
        deadline = asyncio.get_running_loop().time() + min(max(wait, 0.0), MAX_WAIT)
        while True:
            async with self._stored:
                entries = await self.logs.read(uuid, query, after=after, last=last, limit=limit)
                remaining = deadline - asyncio.get_running_loop().time()
                if entries or after is None or remaining <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await self._stored.wait()
        last_id = max(entries[-1].id, start) if entries else start
        return LogPage(entries=entries, last=last_id)

    async def status_log(
        self, model: str, entity: str, kind: str | None, limit: int
    ) -> list[StatusHistoryEntry]:
        """The statuses `entity` (a unit or an application) went through, oldest first."""
        is_unit = "/" in entity
        if is_unit:
            parse_unit_name(entity)
        else:
            check_application_name(entity)
        kind = kind or ("unit" if is_unit else "application")
        if kind not in STATUS_KINDS or (kind == "application") == is_unit:
            fits = [k for k in STATUS_KINDS if (k == "application") != is_unit]
            raise errors.InvalidSpecError(
                f'invalid status type "{kind}" for {entity}: expected one of {", ".join(fits)}'
            )
        record = await self.store.model(model)
        return await self.logs.status_history(record.uuid, entity, STATUS_KINDS[kind], limit)
