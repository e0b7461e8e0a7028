"""Juju's views computed from status: `status PATTERN…` filters, `juju storage`'s
sections, and `show-application`'s entry."""

from __future__ import annotations

from typing import Any

from runecraft.cli._inspect import application_document
from runecraft.cli._status import filter_status
from runecraft.controller.services._status import storage_docs
from runecraft.controller.state import ModelSnapshot, StorageRecord
from tests.unit import _records as records


def _unit(machine: str) -> dict[str, Any]:
    return {"machine": machine, "workload-status": {"current": "active"}}


def _integration(provider: str, requirer: str) -> dict[str, Any]:
    return {"provider": provider, "requirer": requirer, "interface": "x"}


STATUS: dict[str, Any] = {
    "model": {"name": "m"},
    "machines": {"0": {}, "1": {}, "2": {}, "3": {}},
    "applications": {
        "db": {"units": {"db/0": _unit("0"), "db/1": _unit("1")}},
        "web": {"units": {"web/0": _unit("2")}},
        "cache": {"units": {"cache/0": _unit("3")}},
    },
    "integrations": [
        _integration("db:db", "web:db"),
        _integration("db:ha", "db:ha"),
        _integration("cache:cache", "web:cache"),
        _integration("remote-1a2b:db", "cache:db"),
    ],
}


def _shape(document: dict[str, Any]) -> tuple[dict[str, list[str]], list[str]]:
    apps = {name: sorted(app["units"]) for name, app in document["applications"].items()}
    return apps, sorted(document["machines"])


def test_status_filters_keep_what_is_named_and_where_it_runs() -> None:
    assert _shape(filter_status(STATUS, ["db"])) == ({"db": ["db/0", "db/1"]}, ["0", "1"])
    assert _shape(filter_status(STATUS, ["db/1"])) == ({"db": ["db/1"]}, ["1"])
    assert _shape(filter_status(STATUS, ["2"])) == ({"web": ["web/0"]}, ["2"])
    assert _shape(filter_status(STATUS, ["*/0"])) == (
        {"cache": ["cache/0"], "db": ["db/0"], "web": ["web/0"]},
        ["0", "2", "3"],
    )
    assert _shape(filter_status(STATUS, ["nope"])) == ({}, [])
    assert filter_status(STATUS, ["db"])["model"] == {"name": "m"}


def _integrations(patterns: list[str]) -> list[str]:
    kept = filter_status(STATUS, patterns)["integrations"]
    return [f"{i['provider']} {i['requirer']}" for i in kept]


def test_status_filters_keep_the_integrations_a_shown_application_takes_part_in() -> None:
    assert _integrations(["db"]) == ["db:db web:db", "db:ha db:ha"]
    assert _integrations(["db/1"]) == ["db:db web:db", "db:ha db:ha"]
    assert _integrations(["2"]) == ["db:db web:db", "cache:cache web:cache"]
    assert _integrations(["cache"]) == ["cache:cache web:cache", "remote-1a2b:db cache:db"]
    assert _integrations(["nope"]) == []
    assert len(_integrations(["*"])) == 4
    assert "integrations" not in filter_status({"applications": {}}, ["db"])


CROSS_MODEL: dict[str, Any] = {
    **STATUS,
    "integrations": [
        *STATUS["integrations"],
        _integration("mysql:db", "web:db"),
        _integration("cache:cache", "metrics:cache"),
    ],
    "application-endpoints": {
        "mysql": {"url": "admin/other.mysql", "relations": {"db": ["web"]}},
        "metrics": {"url": "admin/other.metrics", "relations": {}},
        "unused": {"url": "admin/other.unused"},
    },
    "offers": {
        "db-offer": {"application": "db", "endpoints": {}},
        "cache-offer": {"application": "cache", "endpoints": {}},
    },
}


def _cross_model(patterns: list[str]) -> tuple[list[str], list[str]]:
    kept = filter_status(CROSS_MODEL, patterns)
    return sorted(kept.get("application-endpoints", {})), sorted(kept.get("offers", {}))


def test_status_filters_keep_the_saas_and_offers_a_shown_application_takes_part_in() -> None:
    assert _cross_model(["web"]) == (["mysql"], [])
    assert _cross_model(["web/0"]) == (["mysql"], [])
    assert _cross_model(["db"]) == ([], ["db-offer"])
    assert _cross_model(["cache"]) == (["metrics"], ["cache-offer"])  # by the integration
    assert _cross_model(["unused"]) == (["unused"], [])  # a SAAS named
    assert _cross_model(["*"]) == (["metrics", "mysql", "unused"], ["cache-offer", "db-offer"])
    nothing = filter_status(CROSS_MODEL, ["nope"])
    assert "application-endpoints" not in nothing and "offers" not in nothing  # as Juju
    kept = filter_status(CROSS_MODEL, ["unused"])["integrations"]
    assert kept == []
    mysql = filter_status(CROSS_MODEL, ["mysql"])["integrations"]
    assert [f"{i['provider']} {i['requirer']}" for i in mysql] == ["mysql:db web:db"]


def test_storage_sections_follow_juju() -> None:
    empty = ModelSnapshot(
        models=[records.model()], applications=[], units=[], machines=[], charms={}
    )
    assert storage_docs(empty) == {}
    data = StorageRecord(records.MODEL_UUID, "data", 0, "app1/0", "filesystem", 1024, 0.0)
    disk = StorageRecord(records.MODEL_UUID, "disk", 0, "app1/0", "block", 2048, 0.0)
    snapshot = ModelSnapshot(
        models=[records.model()],
        applications=[],
        units=[records.unit("app1/0", machine_number=3)],
        machines=[],
        charms={},
        storage=[disk, data],
    )
    docs = storage_docs(snapshot)
    assert list(docs["storage"]) == ["data/0", "disk/0"]
    assert docs["storage"]["data/0"]["kind"] == "filesystem"
    assert docs["storage"]["disk/0"]["kind"] == "block"
    assert docs["storage"]["data/0"]["attachments"] == {
        "units": {"app1/0": {"life": "alive", "machine": "3"}}
    }
    assert docs["filesystems"]["0"]["storage"] == "data/0"
    assert docs["filesystems"]["0"]["size"] == 1024
    assert docs["volumes"]["0"] == {**docs["volumes"]["0"], "storage": "disk/0", "size": 2048}


def test_show_application_entry() -> None:
    app = {
        "charm-name": "db",
        "base": {"name": "ubuntu", "channel": "24.04"},
        "exposed": True,
        "life": "",
    }
    assert application_document(app, {"mem": 1024}, subordinate=False) == {
        "charm": "db",
        "base": "ubuntu@24.04",
        "constraints": {"mem": 1024},
        "principal": True,
        "exposed": True,
        "remote": False,
        "life": "alive",
    }
    assert application_document(app, {}, subordinate=True)["principal"] is False
