"""What `rune status` says of a local machine's isolation."""

from __future__ import annotations

import pytest

from runecraft.controller.providers import local


def test_a_local_machine_under_a_non_root_controller_is_reported_as_not_isolated() -> None:
    message = local.isolation_message("local:0b1e4d1c/0", controller_uid=1000)
    assert message.startswith("not isolated:")
    assert "controller's user" in message


@pytest.mark.parametrize(
    ("instance_id", "uid"),
    [("local:0b1e4d1c/0", 0), ("lxd:runecraft-0", 1000), ("", 1000)],
    ids=["local-as-root", "another-substrate", "not-provisioned"],
)
def test_nothing_is_said_of_isolated_or_other_machines(instance_id: str, uid: int) -> None:
    assert local.isolation_message(instance_id, controller_uid=uid) == ""
