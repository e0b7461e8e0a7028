"""End to end on the LXD substrate: the real CLI and controller on the host, machine agents in
real LXD containers (Runecraft's own debootstrap image), real `ops` and bash charms.

The image is built once and cached across runs (tarball in RUNECRAFT_TEST_IMAGE_CACHE,
image in LXD); every container is tagged with its controller, and whatever a test leaves
behind is deleted by tag, never by name pattern.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from runecraft.cli._lxd import lxd_bridge_address
from runecraft.controller.providers import lxd
from tests.integration.conftest import EXAMPLES, Rune, until
from tests.integration.test_sidecar_e2e import check_fails_and_recovers

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

IMAGE_CACHE = Path(os.environ.get("RUNECRAFT_TEST_IMAGE_CACHE", "/var/cache/runecraft-test/lxd"))
T = TypeVar("T")


def _lxd(work: Callable[[lxd.LxdApi], Any]) -> Any:
    async def go() -> Any:
        api = lxd.LxdApi()
        try:
            return await work(api)
        finally:
            api.close()

    return asyncio.run(go())


def tagged(key: str, value: str) -> list[str]:
    names: list[str] = _lxd(lambda api: api.tagged(key, value))
    return names


def controller_uuid(rune: Rune) -> str:
    config = yaml.safe_load((rune.home / "controller" / "controller.yaml").read_text())
    return str(config["uuid"])


def model_uuid(rune: Rune, name: str) -> str:
    listing = json.loads(rune("models", "--format", "json").stdout)
    return str(next(m["model-uuid"] for m in listing["models"] if m["short-name"] == name))


@pytest.fixture(scope="module")
def bridge() -> str:
    return lxd_bridge_address()


@pytest.fixture
def lxd_rune(rune: Rune, bridge: str) -> Iterator[Rune]:
    """The `rune` runner with the machine image present; deletes leftovers by controller tag."""
    rune("lxd", "build-image", "--cache-dir", str(IMAGE_CACHE), timeout=900)
    yield rune
    config = rune.home / "controller" / "controller.yaml"
    if config.exists():
        leftovers = tagged(lxd.TAG_CONTROLLER, controller_uuid(rune))
        for name in leftovers:
            _lxd(lambda api, name=name: api.delete(name))


def machine_error(rune: Rune, model: str, number: str) -> str | None:
    machine = rune.status("-m", model).get("machines", {}).get(number, {})
    status = machine.get("juju-status", {})
    return str(status.get("message")) if status.get("current") == "error" else None


def test_deploy_integrate_scale_replace_and_destroy_on_lxd(lxd_rune: Rune, bridge: str) -> None:
    rune = lxd_rune
    rune("bootstrap", "--listen-address", bridge)
    rune("add-model", "boxes", "--cloud", "lxd")
    listing = json.loads(rune("models", "--format", "json").stdout)
    assert {m["short-name"]: m["cloud"] for m in listing["models"]} == {
        "default": "local",
        "boxes": "lxd",
    }
    boxes = model_uuid(rune, "boxes")

    rune("deploy", str(EXAMPLES / "hello"), "hello", "-n", "2", "--config", "greeting=hi")
    rune("deploy", str(EXAMPLES / "hello-bash"), "--constraints", "mem=512M cores=1")
    rune("integrate", "hello", "hello-bash")
    rune("wait", "--timeout", "10m", timeout=700)

    status = rune.status()
    for app in ("hello", "hello-bash"):
        assert status["applications"][app]["application-status"]["current"] == "active"
        for unit in status["applications"][app]["units"].values():
            assert unit["workload-status"]["current"] == "active"
            assert unit["juju-status"]["current"] == "idle"
    assert {
        u["workload-status"]["message"] for u in status["applications"]["hello"]["units"].values()
    } == {"hi"}
    assert "hello-bash" in json.dumps(status["applications"]["hello"].get("relations", {}))
    containers = {n: m["instance-id"] for n, m in status["machines"].items()}
    assert containers == {n: lxd.container_name(boxes, int(n)) for n in ("0", "1", "2")}
    assert tagged(lxd.TAG_MODEL, boxes) == sorted(containers.values())
    for number, machine in status["machines"].items():
        assert machine["dns-name"].startswith(bridge.rsplit(".", 1)[0] + "."), number
        config = _lxd(lambda api, n=containers[number]: api.instance_config(n))
        assert config[lxd.TAG_CONTROLLER] == controller_uuid(rune)
        assert config[lxd.TAG_MACHINE] == number

    # Scale down: the unit's machine goes, and exactly its container with it.
    hello_1 = status["applications"]["hello"]["units"]["hello/1"]["machine"]
    rune("remove-unit", "hello/1")
    rune("wait", "--timeout", "5m", timeout=400)
    left = sorted(v for n, v in containers.items() if n != hello_1)
    assert tagged(lxd.TAG_MODEL, boxes) == left

    # A container deleted behind Runecraft's back is replaced on reconcile.
    bash_machine = status["applications"]["hello-bash"]["units"]["hello-bash/0"]["machine"]
    victim = containers[bash_machine]
    before = _lxd(lambda api: api.instance_config(victim))["volatile.uuid"]
    _lxd(lambda api: api.delete(victim))
    until(
        rune,
        "boxes",
        "the deleted container to be replaced",
        lambda: (
            (_lxd(lambda api: api.instance_config(victim)) or {}).get("volatile.uuid")
            not in (None, before)
        ),
    )
    rune("wait", "--timeout", "5m", timeout=400)
    bash_unit = rune.status()["applications"]["hello-bash"]["units"]["hello-bash/0"]
    assert bash_unit["workload-status"]["current"] == "active"
    # The replacement is made with the application's constraints as LXD limits.
    limits = _lxd(lambda api: api.instance_config(victim))
    assert (limits["limits.memory"], limits["limits.cpu"]) == ("512MiB", "1")

    # The other model on the local substrate is untouched by all of this.
    assert rune.status("-m", "default")["model"]["cloud"] == "local"

    rune("destroy-model", "boxes", "--no-prompt", timeout=400)
    assert "boxes" not in rune("models").stdout
    assert tagged(lxd.TAG_MODEL, boxes) == []


def test_missing_image_is_an_actionable_machine_error(
    lxd_rune: Rune, monkeypatch: pytest.MonkeyPatch
) -> None:
    alias = f"runecraft-test/missing-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("RUNECRAFT_LXD_IMAGE", alias)
    rune = lxd_rune
    rune("bootstrap", "lxd")
    assert rune.status()["model"]["cloud"] == "lxd"
    rune("deploy", str(EXAMPLES / "hello-bash"))
    message = until(
        rune, "default", "the machine error", lambda: machine_error(rune, "default", "0")
    )
    assert f'LXD image "{alias}" is missing: check RUNECRAFT_LXD_IMAGE' in message
    assert tagged(lxd.TAG_MODEL, model_uuid(rune, "default")) == []


def test_unreachable_lxd_is_an_actionable_machine_error(
    lxd_rune: Rune, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RUNECRAFT_LXD_ENDPOINT", str(tmp_path / "no-lxd.socket"))
    rune = lxd_rune
    rune("bootstrap")
    bad = rune("add-model", "nowhere", "--cloud", "no-such-cloud", check=False)
    assert bad.returncode != 0
    assert 'unknown cloud "no-such-cloud": known clouds are: ' in bad.stderr
    assert "lxd" in bad.stderr
    # A container placed on the local model (`--to lxd`) is refused up front.
    placed = rune("deploy", str(EXAMPLES / "hello-bash"), "--to", "lxd", check=False)
    assert placed.returncode != 0
    assert "ERROR cannot place units on lxd: LXD is unreachable" in placed.stderr
    assert rune.status()["applications"] == {}
    rune("add-model", "boxes", "--cloud", "lxd")
    rune("deploy", str(EXAMPLES / "hello-bash"))
    message = until(rune, "boxes", "the machine error", lambda: machine_error(rune, "boxes", "0"))
    assert "LXD is unreachable" in message
    assert "no-lxd.socket" in message


def lxc(*args: str) -> None:
    subprocess.run(["lxc", *args], check=True, capture_output=True, text=True)


def test_a_container_that_cannot_start_is_an_actionable_error_until_fixed(
    lxd_rune: Rune, bridge: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A user's extra profile asks for a NIC on a host interface that does not exist: LXD
    # creates the container but cannot start it.
    profile = f"rc-test-{uuid.uuid4().hex[:8]}"
    parent = f"rcno{uuid.uuid4().hex[:6]}"
    lxc("profile", "create", profile)
    rune = lxd_rune
    ours = ""
    try:
        lxc(
            "profile",
            "device",
            "add",
            profile,
            "eth1",
            "nic",
            "nictype=macvlan",
            f"parent={parent}",
        )
        monkeypatch.setenv("RUNECRAFT_LXD_PROFILES", f"default,{profile}")
        rune("bootstrap", "lxd", "--listen-address", bridge)
        ours = controller_uuid(rune)
        model = model_uuid(rune, "default")
        rune("deploy", str(EXAMPLES / "hello-bash"))
        message = until(
            rune, "default", "the machine error", lambda: machine_error(rune, "default", "0")
        )
        name = lxd.container_name(model, 0)
        assert message.startswith(f'LXD container "{name}": LXD could not start it: '), message
        assert f"Parent device '{parent}' doesn't exist" in message
        assert f"(its LXD profiles: default, {profile}; see RUNECRAFT_LXD_PROFILES)" in message
        assert message.endswith("it was deleted and is made again on the next attempt")
        # Nothing half-made is left behind, and the unit waits for its machine.
        assert tagged(lxd.TAG_MODEL, model) == []
        # Once the profile is fixed, the next attempt makes the machine and the unit runs.
        lxc("profile", "device", "remove", profile, "eth1")
        rune("wait", "--timeout", "5m", timeout=400)
        status = rune.status()
        assert status["machines"]["0"]["instance-id"] == name
        assert status["applications"]["hello-bash"]["application-status"]["current"] == "active"
        assert tagged(lxd.TAG_MODEL, model) == [name]
    finally:
        rune("kill-controller", "runecraft", "--no-prompt", check=False, timeout=300)
        for leftover in tagged(lxd.TAG_CONTROLLER, ours) if ours else []:
            _lxd(lambda api, name=leftover: api.delete(name))
        lxc("profile", "delete", profile)


def test_to_lxd_puts_a_container_beside_local_machines(
    lxd_rune: Rune, bridge: str, tmp_path: Path
) -> None:
    rune = lxd_rune
    rune("bootstrap", "--listen-address", bridge)
    model = model_uuid(rune, "default")
    rune("deploy", str(EXAMPLES / "hello-bash"))
    for directive, error in (
        ("lxd:9", 'ERROR invalid placement "lxd:9": machine "9" not found'),
        ("lxd:x", 'ERROR invalid placement "lxd:x": expected a machine number, "new", "lxd"'),
    ):
        bad = rune("add-unit", "hello-bash", "--to", directive, check=False)
        assert bad.returncode != 0
        assert error in bad.stderr, bad.stderr
    # A bundle places the second unit in a container beside machine 0 (`lxd:0`).
    bundle = tmp_path / "bundle.yaml"
    bundle.write_text(
        yaml.safe_dump(
            {
                "machines": {"0": {}},
                "applications": {
                    "hello-bash": {
                        "charm": str(EXAMPLES / "hello-bash"),
                        "num_units": 2,
                        "to": ["0", "lxd:0"],
                    }
                },
            }
        )
    )
    rune("apply", str(bundle), "--wait", "--timeout", "5m", timeout=400)
    assert rune("plan", str(bundle), check=False).returncode == 0  # nothing left to do
    exported = yaml.safe_load(rune("export-bundle").stdout)
    assert exported["applications"]["hello-bash"]["to"] == ["0", "lxd:new"]

    status = rune.status()
    name = lxd.container_name(model, 1)
    assert status["model"]["cloud"] == "local"
    assert "container-type" not in status["machines"]["0"]
    assert status["machines"]["0"]["instance-id"] == f"local:{model}/0"
    assert status["machines"]["1"]["container-type"] == "lxd"
    assert status["machines"]["1"]["instance-id"] == name
    assert status["machines"]["1"]["dns-name"].startswith(bridge.rsplit(".", 1)[0] + ".")
    units = status["applications"]["hello-bash"]["units"]
    assert {u["machine"]: u["workload-status"]["current"] for u in units.values()} == {
        "0": "active",
        "1": "active",
    }
    assert tagged(lxd.TAG_MODEL, model) == [name]

    # Scale down: the unit's container goes with its machine.
    rune("remove-unit", "hello-bash/1")
    rune("wait", "--timeout", "5m", timeout=400)
    until(rune, "default", "the container to go", lambda: tagged(lxd.TAG_MODEL, model) == [])
    assert sorted(rune.status()["machines"]) == ["0"]


def test_sidecar_charm_on_lxd(lxd_rune: Rune, bridge: str) -> None:
    """The sidecar example in an LXD machine: its `web` container is a directory root with
    its own Pebble beside the unit, and Pebble's check events come back as hooks."""
    rune = lxd_rune
    rune("bootstrap", "--listen-address", bridge)
    rune("add-model", "side", "--cloud", "lxd")
    rune("-m", "side", "deploy", str(EXAMPLES / "hello-sidecar"), "--config", "port=8080")
    rune("-m", "side", "wait", "--timeout", "10m", timeout=700)
    check_fails_and_recovers(rune, "side", 8080)
