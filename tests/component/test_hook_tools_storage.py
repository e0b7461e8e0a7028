"""Storage hook tools through the real client: storage-list/get/add (ops' argv)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runecraft.agents import _context

from .test_hook_tools import METADATA, Harness, make_harness

STORAGE_META = (
    "storage:\n"
    "  data: {type: filesystem, location: /srv/data}\n"
    "  logs: {type: filesystem, multiple: {range: 0-3}}\n"
)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async for h in make_harness(tmp_path, leader=False, hook="data-storage-attached"):
        (h.charm_dir / "metadata.yaml").write_text(METADATA + STORAGE_META)
        h.ctx.storage = {
            "data/0": _context.StorageView(kind="filesystem", location="/m/storage/data-0"),
            "logs/1": _context.StorageView(kind="filesystem", location="/m/storage/logs-1"),
            "logs/2": _context.StorageView(kind="filesystem", location="/m/storage/logs-2"),
        }
        h.ctx.storage_id = "data/0"
        yield h


async def test_storage_list(harness: Harness) -> None:
    assert await harness.json("storage-list") == ["data/0", "logs/1", "logs/2"]
    assert await harness.json("storage-list", "logs") == ["logs/1", "logs/2"]
    assert await harness.json("storage-list", "nope") == []


async def test_storage_get_defaults_to_the_hooks_storage(harness: Harness) -> None:
    expected = {"kind": "filesystem", "location": "/m/storage/data-0"}
    assert await harness.json("storage-get") == expected
    assert await harness.json("storage-get", "-s", "logs/2", "location") == "/m/storage/logs-2"
    code, out, err = await harness.run("storage-get", "location")
    assert (code, out, err) == (0, "/m/storage/data-0\n", "")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["-s", "data/9"], 2, 'storage instance "data/9" not found'),
        (["-s", "data/0", "size"], 1, 'invalid storage attribute "size"'),
        (["kind", "extra"], 2, "unrecognized args"),
    ],
)
async def test_storage_get_bad_input(
    harness: Harness, args: list[str], code: int, message: str
) -> None:
    got, out, err = await harness.run("storage-get", *args)
    assert (got, out) == (code, "")
    assert message in err


async def test_storage_get_outside_a_storage_hook_needs_an_id(harness: Harness) -> None:
    harness.ctx.storage_id = ""
    code, _, err = await harness.run("storage-get")
    assert code == 2 and "no storage instance specified" in err


async def test_storage_add_is_buffered_and_bounded(harness: Harness) -> None:
    assert (await harness.run("storage-add", "logs=1"))[0] == 0
    assert harness.ctx.storage_adds == {"logs": 1}
    assert harness.ctx.commit_parts().storage_add == {"logs": 1}
    # Two instances plus one pending: a fourth would leave the range 0-3.
    code, _, err = await harness.run("storage-add", "logs")
    assert code == 1 and "at most 3" in err
    for args, message in [
        (["nope=1"], 'charm storage "nope" not found'),
        (["logs=x"], 'cannot parse count "x"'),
        (["logs=0"], "at least 1"),
        ([], "requires a storage directive"),
        (["data=1"], "at most 1"),
    ]:
        code, _, err = await harness.run("storage-add", *args)
        assert code != 0 and message in err, (args, err)
    assert harness.ctx.storage_adds == {"logs": 1}
    # Juju's tools print no JSON for storage-add; the storage list is unchanged in the hook.
    assert json.loads((await harness.run("storage-list", "--format=json"))[1]) == [
        "data/0",
        "logs/1",
        "logs/2",
    ]
