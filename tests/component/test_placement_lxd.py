"""`--to lxd` / `--to lxd:N` in the model service: a new machine made by the LXD provider
on a local model, refused up front (nothing written) when it cannot work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runecraft import errors
from runecraft.controller.services import ChangeHub, ModelService
from runecraft.controller.state import Store
from runecraft.schemas.api import AddUnitsRequest, DeployRequest

SHA = "c" * 64


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'state.db'}")
    await store.put_charm(
        sha256=SHA,
        name="hello",
        meta={"name": "hello"},
        config={"options": {}},
        actions={},
        data=b"",
    )
    try:
        yield store
    finally:
        await store.close()


async def test_lxd_placements_make_container_machines(store: Store) -> None:
    asked: list[str] = []

    async def ready(substrate: str) -> None:
        asked.append(substrate)

    service = ModelService(store, ChangeHub(), substrate_ready=ready)
    await store.create_model("m", "00000000-0000-0000-0000-0000000000b1", "local", {})
    placed = await service.deploy(
        "m", DeployRequest(application="hello", charm_sha256=SHA, num_units=2, to=["lxd"])
    )
    added = await service.add_units("m", "hello", AddUnitsRequest(num_units=1, to=["lxd:0"]))
    snapshot = await store.snapshot((await store.model("m")).uuid)
    assert asked == ["lxd", "lxd"]
    # Every unit has its machine from the start: the second, without a directive, a new
    # machine of the model's cloud.
    assert placed == {"hello/0": 0, "hello/1": 1}
    assert added == {"hello/2": 2}
    assert {m.number: m.substrate for m in snapshot.machines} == {0: "lxd", 1: None, 2: "lxd"}
    assert {u.name: u.machine_number for u in snapshot.units} == {
        "hello/0": 0,
        "hello/1": 1,
        "hello/2": 2,
    }


@pytest.mark.parametrize(
    ("cloud", "ready_error", "to", "expected"),
    [
        (
            "ssh",
            None,
            ["lxd"],
            errors.InvalidSpecError(
                'placement "lxd" makes a container on the controller\'s host: model "m" is on '
                'cloud "ssh", whose machines are not on that host'
            ),
        ),
        (
            "local",
            errors.TemporaryError("LXD is unreachable (local unix socket): refused"),
            ["lxd"],
            errors.TemporaryError(
                "cannot place units on lxd: LXD is unreachable (local unix socket): refused"
            ),
        ),
        (
            "local",
            None,
            ["lxd:3"],
            errors.NotFoundError('invalid placement "lxd:3": machine "3" not found in model "m"'),
        ),
        (
            "local",
            None,
            ["lxd:"],
            errors.InvalidSpecError(
                'invalid placement "lxd:": expected a machine number, "new", "lxd" or "lxd:N"'
            ),
        ),
    ],
)
async def test_impossible_lxd_placements_change_nothing(
    store: Store,
    cloud: str,
    ready_error: errors.RunecraftError | None,
    to: list[str],
    expected: errors.RunecraftError,
) -> None:
    async def ready(substrate: str) -> None:
        if ready_error is not None:
            raise ready_error

    service = ModelService(store, ChangeHub(), substrate_ready=ready)
    model = await store.create_model("m", "00000000-0000-0000-0000-0000000000b2", cloud, {})
    with pytest.raises(type(expected)) as caught:
        await service.deploy("m", DeployRequest(application="hello", charm_sha256=SHA, to=to))
    assert caught.value.message == expected.message
    after = await store.model("m")
    assert after.revision == model.revision
    snapshot = await store.snapshot(model.uuid)
    assert (snapshot.applications, snapshot.machines) == ([], [])
