"""A unit's state is encoded in one walk of the record, with no deep copy of it first
(`dataclasses.asdict` copied every leaf on every save), into the very bytes the copying
encoder wrote, which load back to the same record."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from runecraft.agents import _state_store, uniter
from runecraft.schemas import bus


def rich_record() -> _state_store.UnitRecord:
    event = uniter.WorkloadEvent(container="web", kind="custom-notice", seq=3, notice_id="7")
    op = uniter.Operation(
        id="op-9",
        kind=uniter.OpKind.RUN_HOOK,
        hook="db-relation-changed",
        step=uniter.Step.RUNNING,
        relation_id=4,
        endpoint="db",
        remote_unit="db/1",
        workload=event,
    )
    relation = uniter.RelationState(
        id=4, endpoint="db", remote_app="db", members={"db/0": 2, "db/1": 5}, app_version=3
    )
    local = uniter.LocalState(
        installed=True,
        started=True,
        leader=True,
        config_hash="abc",
        operation=op,
        error=uniter.HookError(hook="db-relation-changed", attempts=2, retry_at=9.5, op=op),
        relations={4: relation},
        actions_done=("a-1", "a-2"),
        secrets_seen={"secret:1": 2},
        storage_attached=("data/0",),
    )
    return _state_store.UnitRecord(
        local=local,
        workload=bus.StatusValue(status="active", message="ready"),
        workload_version="1.2",
        ports=("80/tcp",),
        workload_events=(event,),
        workload_seq=3,
        notice_cursors={"web": "2026-01-01"},
        report_seq_reserved=64,
        hook_runs=12,
    )


def copying_encoding(record: _state_store.UnitRecord) -> bytes:
    """What the encoder wrote when it copied the record with `dataclasses.asdict` first."""

    def plain(value: Any) -> Any:
        if isinstance(value, uniter.OpKind | uniter.Step):
            return value.value
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [plain(item) for item in value]
        return value

    document = {
        "v": _state_store.FORMAT_VERSION,
        "local": plain(dataclasses.asdict(record.local)),
        "workload": {"status": "active", "message": "ready"},
        "app_status": None,
        "workload_version": record.workload_version,
        "pending_commits": [],
        "ports": list(record.ports),
        "workload_events": [dataclasses.asdict(e) for e in record.workload_events],
        "workload_seq": record.workload_seq,
        "notice_cursors": dict(record.notice_cursors),
        "report_seq_reserved": record.report_seq_reserved,
        "hook_runs": record.hook_runs,
    }
    return json.dumps(document, indent=1, sort_keys=True).encode()


def test_the_record_is_encoded_without_copying_it_into_the_same_bytes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    record = rich_record()
    expected = copying_encoding(record)

    def no_copy(*_: object, **__: object) -> None:
        raise AssertionError("the state encoder deep-copied the record")

    monkeypatch.setattr(dataclasses, "asdict", no_copy)
    assert _state_store.StateStore.encode(record) == expected
    store = _state_store.StateStore(tmp_path / "state.json")
    store.save(record)
    assert store.load() == record
