"""The rules both ends of the bus follow for agent-reported sequence numbers and log offsets.

A unit agent numbers what it reports (`UnitReport`, `LeaderSet`, `AppStatusReport`) from one
counter of its own, persisted with its state: 1, 2, 3 … (hook commits have their own,
gapless numbering). The controller stores a report only when its number is above the one
stored for that kind, and refuses one from the future: a number more than `REPORT_WINDOW`
above the highest the controller accepted from that unit cannot have been sent by an agent
that counts, so it is logged and never stored (else one bad number would freeze the unit's
status for good). An agent that lost its state learns the highest number the controller
accepted from its snapshot (`UnitRemoteState.report_seq`) and counts on from there.

Log batches carry byte offsets into the file shipped and the file's generation (which moves
when the file was rotated or recreated). The controller stores a batch only when it starts
exactly where its copy ends (no gap: the shipper always sends from the offset the controller
acknowledged), or when it opens the next generation at offset 0; anything else is answered
with the offset it holds, so the shipper resumes from there.

Pure functions, shared by the controller and the agents, and tested by tables.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "LOG_BATCH_LIMIT",
    "REPORT_WINDOW",
    "LogCursor",
    "LogVerdict",
    "ReportVerdict",
    "agent_seq",
    "log_verdict",
    "report_verdict",
]

REPORT_WINDOW = 2**20
"""How far above the highest number the controller accepted from a unit a report's may be.
An agent spends one number per report; a million is years of reports sent into a link that
was down, yet far below anything a clock or a corrupted counter produces."""

LOG_BATCH_LIMIT = 4 * 1024 * 1024
"""The most bytes one log batch may cover (the bus payload limit)."""


class ReportVerdict(enum.Enum):
    """What the controller does with a numbered report."""

    APPLY = "apply"
    STALE = "stale"
    """At or below the number stored: an older report (or a replay); ignored."""
    FUTURE = "future"
    """Beyond what the agent could have sent: refused and logged."""


def report_verdict(stored: int, accepted: int, seq: int) -> ReportVerdict:
    """`stored`: the number stored for this kind of report; `accepted`: the highest number
    the controller accepted from the unit of any kind (at least `stored`)."""
    if seq <= stored:
        return ReportVerdict.STALE
    if seq > max(stored, accepted) + REPORT_WINDOW:
        return ReportVerdict.FUTURE
    return ReportVerdict.APPLY


def agent_seq(current: int, accepted: int) -> int:
    """The agent's counter once a snapshot says the controller accepted up to `accepted`.

    Below it, the agent lost its state (a fresh directory, a restored machine): it counts
    on from there. At the window's edge, the controller would refuse the next report: it
    starts again just above what the controller holds. Otherwise its own counter stands.
    """
    if current < accepted or current >= accepted + REPORT_WINDOW:
        return accepted
    return current


class LogVerdict(enum.Enum):
    """What the controller does with a log batch."""

    APPEND = "append"
    """Starts where the stored copy ends: its lines are stored, the cursor moves to its end."""
    RESTART = "restart"
    """Opens the next generation of the file at offset 0: stored, the cursor starts anew."""
    DUPLICATE = "duplicate"
    """Ends at or before the stored copy, or belongs to an older generation: nothing new."""
    OVERLAP = "overlap"
    """Starts before the stored copy ends but ends after it: the shipper sends again from
    the cursor (storing it would repeat lines)."""
    FUTURE = "future"
    """Starts beyond the stored copy, skips a generation, or claims more bytes than a
    batch holds: refused and logged."""


@dataclass(frozen=True)
class LogCursor:
    """Where the controller's copy of one log ends."""

    generation: int = 0
    offset: int = 0


def log_verdict(cursor: LogCursor, generation: int, offset: int, end: int) -> LogVerdict:
    """The verdict on a batch of bytes `offset`..`end` of generation `generation`."""
    if end < offset or end - offset > LOG_BATCH_LIMIT:
        return LogVerdict.FUTURE
    if generation < cursor.generation:
        return LogVerdict.DUPLICATE
    if generation > cursor.generation:
        if generation == cursor.generation + 1 and offset == 0:
            return LogVerdict.RESTART
        return LogVerdict.FUTURE
    if offset > cursor.offset:
        return LogVerdict.FUTURE
    if end <= cursor.offset:
        return LogVerdict.DUPLICATE
    return LogVerdict.APPEND if offset == cursor.offset else LogVerdict.OVERLAP
