"""The LXD substrate's pure parts: constraints as limits, container names, the agent's
systemd unit, and the check that containers can reach the controller."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runecraft import errors
from runecraft.controller.providers import lxd
from runecraft.schemas.agent import AgentConfig, BrokerAddress


@pytest.mark.parametrize(
    ("constraints", "config", "root_size"),
    [
        ({}, {}, None),
        ({"mem": "512M"}, {"limits.memory": "512MiB"}, None),
        ({"mem": "2G"}, {"limits.memory": "2048MiB"}, None),
        ({"mem": "1.5G"}, {"limits.memory": "1536MiB"}, None),
        ({"mem": "1024"}, {"limits.memory": "1024MiB"}, None),
        ({"mem": "1T"}, {"limits.memory": "1048576MiB"}, None),
        ({"mem": "2GiB"}, {"limits.memory": "2048MiB"}, None),
        ({"cores": "2"}, {"limits.cpu": "2"}, None),
        ({"cpu-cores": "3"}, {"limits.cpu": "3"}, None),
        ({"root-disk": "8G"}, {}, "8192MiB"),
        ({"mem": "", "cores": ""}, {}, None),
        ({"arch": "amd64", "virt-type": "container", "tags": "a,b"}, {}, None),
        # As stored by the controller (schemas/constraints.py): MiB and ints.
        (
            {"mem": 1024, "cores": 2, "root-disk": 4096},
            {"limits.memory": "1024MiB", "limits.cpu": "2"},
            "4096MiB",
        ),
        ({"tags": ["a", "b"], "allocate-public-ip": True}, {}, None),
        (
            {"mem": "1G", "cores": "1", "root-disk": "4G"},
            {"limits.memory": "1024MiB", "limits.cpu": "1"},
            "4096MiB",
        ),
    ],
)
def test_constraints_become_limits(
    constraints: dict[str, object], config: dict[str, str], root_size: str | None
) -> None:
    assert lxd.container_limits(constraints) == lxd.ContainerLimits(config, root_size)


@pytest.mark.parametrize(
    ("constraints", "message"),
    [
        ({"mem": "lots"}, 'constraint mem must be a size such as 4G, not "lots"'),
        ({"mem": "0"}, "constraint mem must be more than zero"),
        ({"cores": "two"}, 'constraint cores must be a whole number above zero, not "two"'),
        ({"cores": "0"}, "constraint cores must be a whole number above zero"),
        ({"arch": "arm64"}, "arch=arm64 cannot be met: LXD containers here are amd64"),
        ({"virt-type": "virtual-machine"}, "this LXD runs containers only"),
        ({"container": "kvm"}, "container=kvm cannot be met"),
        ({"zones": "a"}, 'constraint "zones" is not supported on the LXD substrate'),
        ({"zones": ["a"]}, 'constraint "zones" is not supported on the LXD substrate'),
    ],
)
def test_constraints_lxd_cannot_meet_are_named(
    constraints: dict[str, object], message: str
) -> None:
    with pytest.raises(errors.InvalidSpecError, match=re.escape(message)):
        lxd.container_limits(constraints)


@given(st.integers(min_value=1, max_value=10**6), st.sampled_from(["", "M", "G", "T"]))
def test_sizes_are_whole_mib(number: int, suffix: str) -> None:
    factor = {"": 1, "M": 1, "G": 1024, "T": 1024**2}[suffix]
    assert lxd.size_mib("mem", f"{number}{suffix}") == number * factor


@given(st.uuids(), st.integers(min_value=0, max_value=10**6))
def test_container_names_are_valid_lxd_names(model: object, number: int) -> None:
    name = lxd.container_name(str(model), number)
    assert re.fullmatch(r"[a-z][a-z0-9-]{0,62}", name)
    assert name.endswith(f"-{number}")


def test_container_names_differ_per_model_and_machine() -> None:
    a = "0f0e0d0c-0b0a-4908-8706-050403020100"
    b = "1f0e0d0c-0b0a-4908-8706-050403020100"
    assert len({lxd.container_name(a, 0), lxd.container_name(a, 1), lxd.container_name(b, 0)}) == 3


def test_agent_unit_runs_the_agent_and_restarts_it() -> None:
    unit = lxd.agent_unit(["/opt/runecraft/venv/bin/python", "-m", "runecraft.agents"])
    assert "ExecStart=/opt/runecraft/venv/bin/python -m runecraft.agents\n" in unit
    assert "Restart=always\n" in unit
    assert "WantedBy=multi-user.target\n" in unit


def _config(broker_host: str, api_url: str) -> AgentConfig:
    return AgentConfig(
        agent="machine-0",
        model_name="m",
        model_uuid="u",
        machine_id="0",
        data_dir="",
        broker=BrokerAddress(host=broker_host, port=1883, username="a", password="p"),
        api_url=api_url,
        api_token="t",
    )


@pytest.mark.parametrize(
    ("broker", "api", "unreachable"),
    [
        ("10.201.0.1", "http://10.201.0.1:8000", None),
        ("192.168.1.5", "http://192.168.1.5:8000", None),
        ("127.0.0.1", "http://10.201.0.1:8000", "broker listens on 127.0.0.1"),
        ("10.201.0.1", "http://127.0.0.1:8000", "API listens on 127.0.0.1"),
        ("localhost", "http://10.201.0.1:8000", "broker listens on localhost"),
        ("0.0.0.0", "http://10.201.0.1:8000", "broker listens on 0.0.0.0"),
        ("10.201.0.1", "http://[::1]:8000", "API listens on ::1"),
    ],
)
def test_controller_addresses_containers_cannot_reach_are_refused(
    broker: str, api: str, unreachable: str | None
) -> None:
    config = _config(broker, api)
    if unreachable is None:
        lxd.check_reachable(config, "10.201.0.1", "runecraft0")
        return
    with pytest.raises(errors.PermanentError, match=re.escape(unreachable)) as caught:
        lxd.check_reachable(config, "10.201.0.1", "runecraft0")
    assert "--listen-address 10.201.0.1" in caught.value.message
