"""`add-machine` with no target: new machines on the model's cloud, kept while empty; bad
requests (a k8s model, the manual cloud, a count below 1) change nothing."""

from __future__ import annotations

import re
import uuid

import pytest

from runecraft import errors
from runecraft.controller import services
from runecraft.controller.state import Store


def _service(store: Store) -> services.MachineService:
    def no_enlister() -> services.Enlister:
        raise AssertionError("a new machine is not enlisted")

    async def nothing() -> None:
        return None

    return services.MachineService(
        store,
        services.ChangeHub(),
        enlister=no_enlister,
        credentials_changed=nothing,
        broker_for_agents=lambda *_: pytest.fail("no broker is asked for"),
        api_url="http://controller.test",
    )


async def _model(store: Store, name: str, cloud: str, model_type: str = "iaas") -> None:
    config = dict(services.DEFAULT_MODEL_CONFIG)
    await store.create_model(name, str(uuid.uuid4()), cloud, config, model_type=model_type)


async def test_new_machines_are_kept_and_numbered_on(store: Store) -> None:
    await _model(store, "m", "local")
    machines = _service(store)
    assert await machines.add_new("m", 2) == [0, 1]
    assert await machines.add_new("m", substrate="lxd") == [2]
    snap = await store.snapshot()
    assert [(m.number, m.kept, m.substrate) for m in snap.machines] == [
        (0, True, None),
        (1, True, None),
        (2, True, "lxd"),
    ]


@pytest.mark.parametrize(
    ("cloud", "model_type", "count", "message"),
    [
        ("local", "iaas", 0, "cannot add 0 machines"),
        ("manual", "iaas", 1, "give the machine as ssh:[user@]host"),
        ("local", "caas", 1, "k8s model"),
    ],
)
async def test_bad_new_machines_change_nothing(
    store: Store, cloud: str, model_type: str, count: int, message: str
) -> None:
    await _model(store, "m", cloud, model_type)
    with pytest.raises(errors.RunecraftError, match=re.escape(message)):
        await _service(store).add_new("m", count)
    assert (await store.snapshot()).machines == []
