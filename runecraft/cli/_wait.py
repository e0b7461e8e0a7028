"""When is a model settled? A pure judgement of one status document."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Verdict", "judge"]


@dataclass(frozen=True)
class Verdict:
    state: Literal["ready", "error", "pending"]
    message: str
    units_ready: int = 0
    units_total: int = 0


def app_units(apps: dict[str, Any], name: str) -> dict[str, Any]:
    """An application's units: a subordinate's are under its principals' units (as
    jubilant's `Status.get_units` finds them)."""
    app = apps.get(name, {})
    principals = app.get("subordinate-to")
    if not principals:
        units: dict[str, Any] = app.get("units", {})
        return units
    found = {}
    for principal in principals:
        for unit in apps.get(principal, {}).get("units", {}).values():
            for sub_name, sub in unit.get("subordinates", {}).items():
                if sub_name.startswith(name + "/"):
                    found[sub_name] = sub
    return found


def judge(status: dict[str, Any], applications: Sequence[str] = ()) -> Verdict:
    """Ready when every (named) application and unit is active and idle, and the controller
    says the units have settled on the latest desired state; error as soon as any unit or
    application is in error."""
    apps: dict[str, Any] = status.get("applications", {})
    missing = [name for name in applications if name not in apps]
    if missing:
        return Verdict("pending", f'application "{missing[0]}" not found yet')
    chosen = {name: apps[name] for name in applications} if applications else apps
    total = ready = 0
    waiting_on = ""
    for name, app in chosen.items():
        app_status = app.get("application-status", {}).get("current")
        units = app_units(apps, name)
        observed = all(u.get("observed", True) for u in units.values())
        if app_status == "error" and observed:
            return Verdict(
                "error",
                f'application "{name}" is in error: '
                f"{app.get('application-status', {}).get('message', '')}",
            )
        for unit_name, unit in units.items():
            total += 1
            workload = unit.get("workload-status", {})
            agent = unit.get("juju-status", {})
            if workload.get("current") == "error" or agent.get("current") == "error":
                message = workload.get("message") or agent.get("message") or "error"
                if unit.get("observed", True):
                    return Verdict(
                        "error", f"unit {unit_name} is in error: {message}", ready, total
                    )
                # Not yet reported on the latest change (e.g. a `rune resolve`): it may recover.
                waiting_on = waiting_on or f"{unit_name}: {message} (awaiting its next report)"
                continue
            if (
                workload.get("current") == "active"
                and agent.get("current") == "idle"
                and unit.get("settled", True)
            ):
                ready += 1
            elif not waiting_on:
                waiting_on = (
                    f"{unit_name}: {workload.get('current')}/{agent.get('current')} "
                    f"{workload.get('message', '')}".rstrip()
                    if unit.get("life", "") in ("", "alive")
                    else f"{unit_name}: being removed"
                )
                if workload.get("current") == "active" and agent.get("current") == "idle":
                    waiting_on = f"{unit_name}: has not yet seen the latest change"
        if units and app_status != "active" and not waiting_on:
            waiting_on = f"{name}: {app_status}"
    if waiting_on:
        return Verdict("pending", waiting_on, ready, total)
    model = status.get("model", {})
    if not model.get("reconciled", True) or (not applications and not model.get("settled", True)):
        return Verdict("pending", "controller is still reconciling", ready, total)
    return Verdict("ready", f"{ready} unit(s) active and idle", ready, total)
