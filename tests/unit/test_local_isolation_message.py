"""What `rune status` says of a local machine's isolation."""

from __future__ import annotations

import pytest

from runecraft.controller.providers import local


def test_a_local_machine_under_a_non_root_controller_is_reported_as_not_isolated() -> None:
    message = local.isolation_message("local:0b1e4d1c/0", isolated=False, controller_uid=1000)
    assert message.startswith("not isolated:")
    assert "controller's user" in message


def test_a_root_controller_that_does_not_isolate_is_reported_as_running_machines_as_root() -> None:
    message = local.isolation_message("local:0b1e4d1c/0", isolated=False, controller_uid=0)
    assert message.startswith("not isolated:")
    assert "run as root" in message


@pytest.mark.parametrize(
    ("instance_id", "isolated", "uid"),
    [
        ("local:0b1e4d1c/0", True, 0),
        ("lxd:runecraft-0", False, 1000),
        ("lxd:runecraft-0", False, 0),
        ("", False, 1000),
    ],
    ids=["local-isolated", "another-substrate", "another-substrate-as-root", "not-provisioned"],
)
def test_nothing_is_said_of_isolated_or_other_machines(
    instance_id: str, isolated: bool, uid: int
) -> None:
    assert local.isolation_message(instance_id, isolated=isolated, controller_uid=uid) == ""
