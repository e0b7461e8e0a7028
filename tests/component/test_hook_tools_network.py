"""Ports, networking and the remaining tools through the real client: open-port, close-port,
opened-ports, network-get, unit-get, goal-state, credential-get, juju-reboot, status-get."""

from __future__ import annotations

import datetime
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import ops.hookcmds._types as hookcmd_types
import pytest

from runecraft import errors
from runecraft.agents import _relations, hooktools
from runecraft.schemas import bus

from .test_hook_tools import Harness, make_harness, remote


@pytest.fixture
async def unit(tmp_path: Path) -> AsyncIterator[Harness]:
    async for harness in make_harness(
        tmp_path,
        leader=False,
        state=remote(private_address="10.20.30.40"),
        ports=("80/tcp", "1000-2000/udp@website"),
    ):
        yield harness


# --- open-port / close-port / opened-ports -----------------------------------------------------


async def test_opened_ports_lists_committed_ports(unit: Harness) -> None:
    assert await unit.json("opened-ports") == ["80/tcp", "1000-2000/udp"]
    assert await unit.run("opened-ports") == (0, "80/tcp\n1000-2000/udp\n", "")
    assert await unit.json("opened-ports", "--endpoints") == [
        "80/tcp (*)",
        "1000-2000/udp (website)",
    ]


async def test_port_changes_are_buffered_and_merged_into_opened_ports(unit: Harness) -> None:
    for args in (["8080/TCP"], ["icmp"], ["53/udp", "--endpoints", "db,website"], ["443"]):
        assert await unit.run("open-port", *args) == (0, "", "")
    assert await unit.run("close-port", "80/tcp") == (0, "", "")
    assert await unit.run("close-port", "1000-2000/udp", "--endpoints=website") == (0, "", "")
    # Juju's SortPortRanges: by protocol, then port.
    assert await unit.json("opened-ports") == ["icmp", "443/tcp", "8080/tcp", "53/udp"]
    assert await unit.json("opened-ports", "--endpoints") == [
        "icmp (*)",
        "443/tcp (*)",
        "8080/tcp (*)",
        "53/udp (db, website)",
    ]
    parts = unit.ctx.commit_parts()
    assert parts.opened_ports == ("443/tcp", "53/udp@db", "53/udp@website", "8080/tcp", "icmp")
    assert parts.closed_ports == ("1000-2000/udp@website", "80/tcp")
    assert unit.ctx.ports == {("80/tcp", ""), ("1000-2000/udp", "website")}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "no port or range specified"),
        (
            ["http"],
            'expected <port>[/<protocol>] or <from>-<to>[/<protocol>] or icmp; got "http"',
        ),
        (["0/tcp"], 'port must be in the range [1, 65535]; got "0"'),
        (["70000"], 'port must be in the range [1, 65535]; got "70000"'),
        (["2000-1000/tcp"], "invalid port range 2000-1000/tcp; expected fromPort <= toPort"),
        (["80/sctp"], 'protocol must be "tcp", "udp", or "icmp"; got "sctp"'),
        (["80", "81"], 'unrecognized args: ["81"]'),
    ],
)
@pytest.mark.parametrize("tool", ["open-port", "close-port"])
async def test_port_usage_errors(unit: Harness, tool: str, args: list[str], message: str) -> None:
    assert await unit.run(tool, *args) == (2, "", f"ERROR {message}\n")
    assert unit.ctx.port_ops == []


async def test_open_port_unknown_endpoint(unit: Harness) -> None:
    assert await unit.run("open-port", "80", "--endpoints", "nope") == (
        1,
        "",
        'ERROR endpoint "nope" for unit "app/0" not found\n',
    )


async def test_ops_parses_opened_ports(unit: Harness) -> None:
    """ops' hookcmds split each entry on the last space; our output must survive that."""
    await unit.run("open-port", "53/udp", "--endpoints", "db")
    entries = await unit.json("opened-ports", "--endpoints")
    for entry in entries:
        port, endpoints = entry.rsplit(" ", 1)
        assert port and endpoints.startswith("(") and endpoints.endswith(")")


# --- network-get ---------------------------------------------------------------------------------

FULL = {
    "bind-addresses": [
        {
            "mac-address": "",
            "interface-name": "",
            "addresses": [{"hostname": "", "value": "10.20.30.40", "cidr": "10.20.30.40/32"}],
        }
    ],
    "egress-subnets": ["10.20.30.40/32"],
    "ingress-addresses": ["10.20.30.40"],
}


@pytest.mark.parametrize("binding", ["db", "website", "cluster", "admin", "juju-info"])
async def test_network_get_json_shape(unit: Harness, binding: str) -> None:
    assert await unit.json("network-get", binding) == FULL


async def test_network_get_is_what_ops_expects(unit: Harness) -> None:
    network = hookcmd_types.Network._from_dict(await unit.json("network-get", "db"))
    assert [b.addresses[0].value for b in network.bind_addresses] == ["10.20.30.40"]
    assert list(network.ingress_addresses) == ["10.20.30.40"]


@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
async def test_network_get_names_the_interface_holding_the_address(
    tmp_path: Path, address: str
) -> None:
    """The agent runs on the unit's machine: the interface is the one holding the address."""
    async for local in make_harness(tmp_path, leader=False, state=remote(private_address=address)):
        info = await local.json("network-get", "db")
        bound = info["bind-addresses"][0]
        mac = Path("/sys/class/net/lo/address").read_text().strip()
        assert (bound["interface-name"], bound["mac-address"]) == ("lo", mac)
        assert bound["addresses"][0]["value"] == address


async def test_network_get_yaml_uses_jujus_yaml_keys(unit: Harness) -> None:
    code, out, _ = await unit.run("network-get", "db")
    assert code == 0
    assert 'macaddress: ""' in out and 'interfacename: ""' in out
    assert "ingress-addresses:\n- 10.20.30.40\n" in out


@pytest.mark.parametrize(
    ("args", "out"),
    [
        (["db", "--primary-address"], "10.20.30.40\n"),
        (["db", "--ingress-address"], "10.20.30.40\n"),
        (["db", "--bind-address"], "10.20.30.40\n"),
        (["db", "--egress-subnets"], "10.20.30.40/32\n"),
        (["db", "--egress-subnets", "--format=json"], '["10.20.30.40/32"]\n'),
        (
            ["db", "--ingress-address", "--bind-address", "--format=json"],
            '{"bind-address":"10.20.30.40","ingress-address":"10.20.30.40"}\n',
        ),
    ],
)
async def test_network_get_single_values(unit: Harness, args: list[str], out: str) -> None:
    assert await unit.run("network-get", *args) == (0, out, "")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["nope"], 1, 'no network config found for binding "nope"'),
        ([], 2, "no arguments specified"),
        ([""], 2, "no binding name specified"),
        (["db", "extra"], 2, 'unrecognized args: ["extra"]'),
        (["db", "-r", "3"], 2, 'invalid value "3" for option -r: relation not found'),
        (
            ["db", "--primary-address", "--ingress-address"],
            1,
            "--primary-address must be the only flag specified",
        ),
    ],
)
async def test_network_get_errors(unit: Harness, args: list[str], code: int, message: str) -> None:
    assert await unit.run("network-get", *args) == (code, "", f"ERROR {message}\n")


async def test_network_get_ipv6_cidr(tmp_path: Path) -> None:
    async for harness in make_harness(
        tmp_path, leader=False, state=remote(private_address="fd00::7")
    ):
        got = await harness.json("network-get", "db")
        assert got["egress-subnets"] == ["fd00::7/128"]


# --- unit-get ----------------------------------------------------------------------------------


@pytest.mark.parametrize("setting", ["private-address", "public-address"])
async def test_unit_get(unit: Harness, setting: str) -> None:
    assert await unit.run("unit-get", setting) == (0, "10.20.30.40\n", "")


async def test_unit_get_usage(unit: Harness) -> None:
    assert await unit.run("unit-get") == (2, "", "ERROR no setting specified\n")
    assert await unit.run("unit-get", "zone") == (2, "", 'ERROR unknown setting "zone"\n')


# --- goal-state ----------------------------------------------------------------------------------


async def test_goal_state_shape_and_ops_parsing(tmp_path: Path) -> None:
    peers = bus.RelationRemote(
        id=9,
        endpoint="cluster",
        interface="p",
        role="peer",
        remote_application="app",
        units={"app/1": 1},
    )
    db = bus.RelationRemote(
        id=1,
        endpoint="db",
        interface="mysql",
        role="requirer",
        remote_application="mysql",
        units={"mysql/0": 1},
    )
    states = {
        9: _relations.RelationState(
            id=9, endpoint="cluster", remote_app="app", peer=True, members={"app/1": 1}
        ),
        1: _relations.RelationState(
            id=1, endpoint="db", remote_app="mysql", members={"mysql/0": 1}
        ),
    }
    async for harness in make_harness(
        tmp_path, leader=False, state=remote(relations=(peers, db)), relations=states
    ):
        code, out, err = await harness.run("goal-state")
        assert (code, err) == (0, "")
        assert out.startswith("relations:\n")  # yaml by default
        got = await harness.json("goal-state")
        assert set(got) == {"units", "relations"}
        assert {name: goal["status"] for name, goal in got["units"].items()} == {
            "app/0": "maintenance",
            "app/1": "alive",
        }
        assert {name: goal["status"] for name, goal in got["relations"]["db"].items()} == {
            "mysql": "joined",
            "mysql/0": "joined",
        }
        goal = hookcmd_types.GoalState._from_dict(got)
        since = goal.units["app/0"].since
        assert since.tzinfo is not None
        assert abs(datetime.datetime.now(datetime.UTC) - since) < datetime.timedelta(minutes=5)
        assert sum(1 for g in goal.units.values() if g.status != "dying") == 2


# --- status-get --application --------------------------------------------------------------------


async def test_status_get_application_lists_the_leaders_view(tmp_path: Path) -> None:
    async for harness in make_harness(tmp_path, leader=True):
        await harness.run("status-set", "--application", "active", "ok")
        got = await harness.json("status-get", "--application", "--include-data")
        assert got["application-status"]["units"] == {
            "app/0": {"status": "maintenance", "message": "installing", "status-data": {}}
        }


# --- credential-get, juju-reboot ----------------------------------------------------------------


async def test_credential_get_is_refused(unit: Harness) -> None:
    assert await unit.run("credential-get", "--format=json") == (
        1,
        "",
        "ERROR cannot access cloud credentials: permission denied\n",
    )


async def test_credential_get_prints_what_the_controller_answers(unit: Harness) -> None:
    spec = {"type": "kubernetes", "name": "k8s", "credential": {"auth-type": "oauth2"}}

    async def trusted() -> dict[str, Any]:
        return spec

    async def untrusted() -> dict[str, Any]:
        raise errors.PermissionDeniedError("cannot access cloud credentials: permission denied")

    unit.ctx.credential_fetch = trusted
    assert await unit.json("credential-get") == spec
    unit.ctx.credential_fetch = untrusted
    code, _, err = await unit.run("credential-get")
    assert (code, err) == (1, "ERROR cannot access cloud credentials: permission denied\n")


@pytest.mark.parametrize("args", [[], ["--now"]])
async def test_juju_reboot_is_unsupported(unit: Harness, args: list[str]) -> None:
    code, out, err = await unit.run("juju-reboot", *args)
    assert (code, out) == (1, "")
    assert err == (
        "ERROR juju-reboot is not supported: Runecraft does not reboot machines from hooks\n"
    )


async def test_every_tool_has_help(unit: Harness) -> None:
    for name in sorted(hooktools.TOOLS):
        code, out, err = await unit.run(name, "--help")
        assert (code, err) == (0, ""), name
        assert out.startswith(f"Usage: {name} [options]"), name
    assert json.loads((await unit.run("is-leader", "--format=json"))[1]) is False
