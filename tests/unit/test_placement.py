"""`--to` directives: machine numbers, `new`, and LXD containers on the host."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from runecraft import errors
from runecraft.cli import _output
from runecraft.controller.services._placement import UnitPlacement, parse_placement


@pytest.mark.parametrize(
    ("directive", "placement"),
    [
        ("new", UnitPlacement()),
        ("0", UnitPlacement(machine=0)),
        ("12", UnitPlacement(machine=12)),
        ("lxd", UnitPlacement(substrate="lxd")),
        ("lxd:0", UnitPlacement(machine=0, substrate="lxd")),
        ("lxd:7", UnitPlacement(machine=7, substrate="lxd")),
    ],
)
def test_directives(directive: str, placement: UnitPlacement) -> None:
    assert parse_placement(directive) == placement


@pytest.mark.parametrize(
    "directive",
    ["", "lxd:", "lxd:x", "lxd:0:1", "kvm", "kvm:0", "LXD", "new:1", "-1", "0/lxd/0", "٣", "lxd:٣"],
)
def test_anything_else_is_named_in_the_error(directive: str) -> None:
    with pytest.raises(errors.InvalidSpecError) as caught:
        parse_placement(directive)
    assert caught.value.message == (
        f'invalid placement "{directive}": expected a machine number, "new", "lxd" or "lxd:N"'
    )


def test_status_table_marks_a_placed_container() -> None:
    machine = {"juju-status": {"current": "started"}, "dns-name": "10.201.0.7"}
    status = {
        "machines": {
            "0": {**machine, "instance-id": "local:m/0"},
            "1": {**machine, "instance-id": "rc-0123-1", "container-type": "lxd"},
        }
    }
    stream = io.StringIO()
    console = Console(file=stream, width=200, highlight=False)
    for table in _output.status_tables(status):
        console.print(table)
    rows = [line.split() for line in stream.getvalue().splitlines() if line.strip()]
    assert ["0", "started", "10.201.0.7", "local:m/0"] in rows
    assert ["1", "started", "10.201.0.7", "rc-0123-1", "(lxd)"] in rows
