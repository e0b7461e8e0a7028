"""`rune wait` counts subordinate units, found under their principals' units as jubilant's
`Status.get_units` finds them."""

from __future__ import annotations

from typing import Any

from runecraft.cli import _wait


def _unit(workload: str, **extra: Any) -> dict[str, Any]:
    return {
        "workload-status": {"current": workload, "message": ""},
        "juju-status": {"current": "idle"},
        "settled": True,
        **extra,
    }


def _status(sub_workload: str) -> dict[str, Any]:
    return {
        "model": {"reconciled": True, "settled": True},
        "applications": {
            "web": {
                "application-status": {"current": "active"},
                "units": {"web/0": _unit("active", subordinates={"log/0": _unit(sub_workload)})},
            },
            "log": {"application-status": {"current": "active"}, "subordinate-to": ["web"]},
        },
    }


def test_a_subordinate_unit_is_found_under_its_principal() -> None:
    assert list(_wait.app_units(_status("active")["applications"], "log")) == ["log/0"]


def test_wait_holds_on_a_subordinate_unit_not_yet_active() -> None:
    pending = _wait.judge(_status("maintenance"), ["log"])
    assert pending.state == "pending" and "log/0" in pending.message
    ready = _wait.judge(_status("active"), ["log"])
    assert ready.state == "ready" and ready.units_total == 1
