"""Relations in `rune status`: Juju's per-application `relations`, open ports, and the
`--relations` table."""

from __future__ import annotations

import dataclasses

from rich.console import Console

from runecraft.cli import _output
from runecraft.controller.services import _status
from runecraft.controller.state import ModelSnapshot
from runecraft.schemas.controller import BrokerHealth, BrokerState
from tests.unit._records import relation
from tests.unit.test_plan_relations import CHARM, DB, MODEL, STATE, UNITS, WEB, machine


def snapshot(**changes: object) -> ModelSnapshot:
    base = ModelSnapshot(
        models=[MODEL],
        applications=[DB, WEB],
        units=[dataclasses.replace(UNITS[0], opened_ports=["80/tcp", "443/tcp"]), *UNITS[1:]],
        machines=[machine(0), machine(1), machine(2)],
        charms={CHARM.sha256: CHARM},
        relations=list(STATE.relations),
        endpoints=list(STATE.endpoints),
        scopes=list(STATE.scopes),
        databags=list(STATE.databags),
    )
    return dataclasses.replace(base, **changes)


def status(snap: ModelSnapshot) -> dict[str, object]:
    return _status.build_status(
        snap, controller_name="c", published_revision=lambda _: 10**9, reconciled=True
    )


def test_status_lists_relations_per_application_and_open_ports() -> None:
    document = status(snapshot())
    apps = document["applications"]
    assert isinstance(apps, dict)
    assert apps["db"]["relations"] == {
        "ha": [{"related-application": "db", "interface": "db-peers", "scope": "global"}],
        "db": [{"related-application": "web", "interface": "mysql", "scope": "global"}],
    }
    assert apps["web"]["relations"] == {
        "db": [{"related-application": "db", "interface": "mysql", "scope": "global"}]
    }
    assert apps["db"]["units"]["db/0"]["open-ports"] == ["80/tcp", "443/tcp"]
    assert "open-ports" not in apps["db"]["units"]["db/1"]
    assert document["integrations"] == [
        {
            "id": 0,
            "key": "db:ha",
            "provider": "db:ha",
            "requirer": "db:ha",
            "interface": "db-peers",
            "type": "peer",
            "scope": "global",
            "life": "",
        },
        {
            "id": 1,
            "key": "web:db db:db",
            "provider": "db:db",
            "requirer": "web:db",
            "interface": "mysql",
            "type": "regular",
            "scope": "global",
            "life": "",
        },
    ]


def test_a_dying_relation_keeps_the_model_unsettled() -> None:
    dying = [relation(1, "web:db db:db", "dying"), STATE.relations[0]]
    model = status(snapshot(relations=dying))["model"]
    assert isinstance(model, dict)
    assert model["settled"] is False


def test_relations_table_only_with_the_flag() -> None:
    document = status(snapshot())

    def text(relations: bool) -> str:
        console = Console(width=200, record=True)
        for table in _output.status_tables(document, relations=relations):
            console.print(table)
        return console.export_text()

    assert "Integration provider" not in text(False)
    shown = text(True)
    assert "Integration provider" in shown
    rows = [line.split() for line in shown.splitlines() if "regular" in line or "peer" in line]
    assert ["db:ha", "db:ha", "db-peers", "peer"] in rows
    assert ["db:db", "web:db", "mysql", "regular"] in rows


def test_status_carries_the_brokers_state_where_juju_keeps_the_timestamp() -> None:
    def document(broker: BrokerHealth) -> dict[str, object]:
        return _status.build_status(
            snapshot(),
            controller_name="c",
            published_revision=lambda _: 0,
            reconciled=True,
            broker=broker,
        )

    down = document(BrokerHealth(state=BrokerState.DOWN, message="cannot listen"))
    assert down["controller"] == {"broker-status": {"current": "down", "message": "cannot listen"}}
    assert document(BrokerHealth())["controller"] == {"broker-status": {"current": "running"}}
