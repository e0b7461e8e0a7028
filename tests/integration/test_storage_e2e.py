"""Storage and resources with a real ops charm: `deploy --storage`, attach before install,
the storage tools, `storage-add`, detaching before stop when a unit goes (charm-contract
§3); `deploy --resource`, `resource-get` through ops, `attach-resource` (§4.3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.integration import _conformance as c
from tests.integration.conftest import Rune, writable_by_machines

CHARM = c.CHARMS / "ops-storage"
APP = "ops-storage"


def _records(directory: Path, unit: str) -> list[dict[str, Any]]:
    path = directory / f"{unit.replace('/', '-')}.jsonl"
    assert path.exists(), f"{unit} recorded nothing"
    return [json.loads(line) for line in path.read_text().splitlines()]


def _exec(rune: Rune, unit: str, command: str) -> str:
    result = rune("exec", "--unit", unit, "--format", "json", "--", command)
    stdout: str = json.loads(result.stdout)[unit]["results"]["stdout"]
    return stdout


def test_storage_lifecycle(rune: Rune, tmp_path: Path) -> None:
    record = writable_by_machines(tmp_path / "records")
    rune("bootstrap")

    # -- Bad directives are refused before anything is deployed.
    for storage, named in [
        ("nope=1", 'no storage "nope"'),
        ("logs=9", "range 0-4"),
        ("data=100M", "minimum-size"),
        ("logs=1,2", "count given twice"),
    ]:
        result = rune("deploy", str(CHARM), "bad", "--storage", storage, check=False)
        assert result.returncode != 0 and named in result.stderr, (storage, result.stderr)
    assert "bad" not in rune.status().get("applications", {})

    motd = tmp_path / "motd-v1.txt"
    motd.write_text("hello v1\n")
    for resource, named in [
        ("nope=" + str(motd), 'no resource "nope"'),
        ("motd=" + str(tmp_path / "missing.txt"), "missing.txt"),
        ("motd", "NAME=PATH"),
    ]:
        result = rune("deploy", str(CHARM), "bad", "--resource", resource, check=False)
        assert result.returncode != 0 and named in result.stderr, (resource, result.stderr)
    assert "bad" not in rune.status().get("applications", {})

    rune(
        "deploy",
        str(CHARM),
        APP,
        "-n",
        "2",
        "--storage",
        "logs=2G,2",
        "--resource",
        f"motd={motd}",
        "--config",
        f"record-dir={record}",
    )
    c.settle(rune)

    # -- Every instance attaches before install, with JUJU_STORAGE_ID set and its directory
    # in place; install already sees all of them through `self.model.storages`.
    all_ids: dict[str, list[str]] = {}
    for unit in (f"{APP}/0", f"{APP}/1"):
        events = _records(record, unit)
        hooks = [e["hook"] for e in events]
        install = hooks.index("install")
        attached = events[:install]
        assert [e["hook"] for e in attached] == [
            "data-storage-attached",
            "logs-storage-attached",
            "logs-storage-attached",
        ], hooks
        for event in attached:
            assert event["env_id"] == f"{event['name']}/{event['index']}", event
            assert event["is_dir"], event
            assert Path(event["location"]).name == f"{event['name']}-{event['index']}"
            assert (Path(event["location"]) / "attached").read_text() == event["env_id"]
        assert events[install]["storages"] == {
            "data": [attached[0]["index"]],
            "logs": sorted(e["index"] for e in attached[1:]),
        }
        all_ids[unit] = [e["env_id"] for e in attached]
    # Instance numbers are unique in the model.
    flat = [sid for ids in all_ids.values() for sid in ids]
    assert len(set(flat)) == 6, all_ids

    # -- The tools answer the same in any hook context (here: exec).
    unit = f"{APP}/0"
    listed = _exec(rune, unit, "storage-list --format=json")
    assert sorted(json.loads(listed)) == sorted(all_ids[unit])
    data_id = all_ids[unit][0]
    location = _exec(rune, unit, f"storage-get -s {data_id} location").strip()
    assert Path(location, "attached").read_text() == data_id

    # -- storage-add (ops: `self.model.storages.request`) attaches one more after the hook.
    code, task = c.run_action(rune, unit, "add-logs")
    assert code == 0 and task["status"] == "completed", task
    c.settle(rune)
    added = [e for e in _records(record, unit) if e["hook"] == "logs-storage-attached"][2:]
    assert len(added) == 1 and added[0]["is_dir"], added
    assert len(json.loads(_exec(rune, unit, "storage-list logs --format=json"))) == 3

    # -- A removed unit detaches each instance before stop (and remove).
    gone = f"{APP}/1"
    rune("remove-unit", gone)
    c.settle(rune)
    hooks = [e["hook"] for e in _records(record, gone)]
    teardown = hooks[hooks.index("start") + 1 :]
    assert teardown == [
        "data-storage-detaching",
        "logs-storage-detaching",
        "logs-storage-detaching",
        "stop",
        "remove",
    ], hooks

    # -- Resources: ops' `self.model.resources.fetch` gets the file deploy uploaded, at
    # `<unit dir>/resources/<name>/<filename>`; a declared but unattached one is a
    # ModelError; attach-resource replaces the file for the next fetch.
    code, task = c.run_action(rune, unit, "read-resource")
    assert code == 0, task
    assert task["results"]["content"] == "hello v1\n", task
    path = Path(task["results"]["path"])
    assert path.parts[-3:] == ("resources", "motd", "motd.txt"), path
    code, task = c.run_action(rune, unit, "read-resource", "name=extra")
    assert task["results"]["error"] == "ModelError", task
    assert "not found" in task["results"]["detail"], task
    missing = rune("exec", "--unit", unit, "--", "resource-get", "nope", check=False)
    assert missing.returncode == 1 and "task failed" in missing.stderr

    motd.write_text("hello v2\n")
    rune("attach-resource", APP, f"motd={motd}")
    c.settle(rune)
    code, task = c.run_action(rune, unit, "read-resource")
    assert task["results"]["content"] == "hello v2\n", task
    for args, named in [
        ([APP, "nope=" + str(motd)], 'no resource "nope"'),
        (["ghost", f"motd={motd}"], '"ghost" not found'),
    ]:
        result = rune("attach-resource", *args, check=False)
        assert result.returncode != 0 and named in result.stderr, (args, result.stderr)
