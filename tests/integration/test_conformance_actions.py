"""Conformance: actions (charm-contract §8, §9.3; `rune run` as jubilant reads it) and charm
refresh (§3.3 "Charm refresh", §5 state persistence), with real ops and bash charms."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.integration import _conformance as c
from tests.integration.conftest import Rune

CRASH = {
    # flavour: (return code, what the charm wrote on stderr)
    "ops": (1, "Uncaught RuntimeError in charm code: crashed on purpose"),
    "bash": (3, "crashing on purpose"),
}


def _logged(task: dict[str, object], message: str) -> bool:
    """Juju prints each action-log entry as `<timestamp> <message>`."""
    log = task.get("log") or []
    assert isinstance(log, list), task
    return any(str(entry).endswith(message) for entry in log)


@pytest.mark.parametrize("flavour", ["ops", "bash"])
def test_actions_and_refresh(rune: Rune, tmp_path: Path, flavour: str) -> None:
    app = c.PAIRS[flavour].provider
    unit = f"{app}/0"
    rec = c.Recorder(tmp_path / "events")
    rune("bootstrap")
    c.deploy(rune, app, rec.directory, units=1)
    c.settle(rune)

    # -- A successful action: params validated, the schema default filled in before the
    # charm runs (action-get sees it), results nested from dotted keys, Juju's keys added.
    code, task = c.run_action(rune, unit, "echo", "message=hi")
    assert code == 0, task
    assert task["status"] == "completed", task
    assert isinstance(task["id"], str) and task["id"], task
    results = task["results"]
    assert results["echoed"] == "hi hi", results
    assert results["params"] == {"message": "hi", "times": "2"}, results
    assert results["return-code"] == 0, results
    assert "echo: hi" in results["stdout"], results
    assert _logged(task, "echoing hi 2 times"), task
    recorded = rec.events(unit)[-1]
    assert (recorded.kind, recorded.name) == ("actions", "echo")
    assert recorded.data == {"params": {"message": "hi", "times": 2}}

    code, task = c.run_action(rune, unit, "echo", "message=yo", "times=3")
    assert (code, task["status"], task["results"]["echoed"]) == (0, "completed", "yo yo yo")

    # -- Bad params are refused before anything is queued: exit 1 naming the problem, and
    # the charm never runs (the next good action is the only new event).
    before = len(rec.events(unit))
    for params, named in [
        (["times=3"], "message"),  # required param missing
        (["message=hi", "times=zero"], "times"),  # wrong type
        (["message=hi", "times=0"], "times"),  # below minimum
        (["message=hi", "colour=red"], "colour"),  # additionalProperties: false
    ]:
        result = rune("run", unit, "echo", *params, "--wait", "1m", check=False)
        assert result.returncode == 1, (params, result.stdout, result.stderr)
        assert named in result.stderr, (params, result.stderr)
    result = rune("run", unit, "no-such-action", "--wait", "1m", check=False)
    assert (result.returncode, result.stdout) == (0, ""), result  # as Juju 3.6
    assert "no-such-action" in result.stderr, result.stderr
    code, task = c.run_action(rune, unit, "echo", "message=after")
    assert code == 0, task
    new = rec.events(unit)[before:]
    assert [(e.name, e.data) for e in new] == [
        ("echo", {"params": {"message": "after", "times": 2}})
    ], c.describe(new)

    # -- action-fail: the task fails with the charm's message and keeps its results; the
    # CLI exits 1 with "task failed" yet still prints the task (what jubilant parses).
    code, task = c.run_action(rune, unit, "fail")
    assert code == 1 and "task failed" in task["_stderr"], task
    assert task["status"] == "failed", task
    assert task["message"] == "told to fail", task
    assert task["results"]["partial"] == "yes", task
    assert task["results"]["return-code"] == 0, task
    assert _logged(task, "about to fail"), task

    # -- A handler that exits non-zero: failed, with its exit code and stderr captured.
    return_code, stderr = CRASH[flavour]
    code, task = c.run_action(rune, unit, "crash")
    assert code == 1 and "task failed" in task["_stderr"], task
    assert task["status"] == "failed", task
    assert task["results"]["return-code"] == return_code, task
    assert stderr in task["results"]["stderr"], task
    assert f"exit status {return_code}" in task.get("message", ""), task
    assert _logged(task, "about to crash"), task

    # Failed actions leave the unit as it was (§8: no error state).
    c.settle(rune)
    assert c.workload(rune.status(), unit) == {"current": "active", "message": "not related"}

    # -- Refresh to a new revision of the charm: upgrade-charm then config-changed, and
    # nothing else; the new code runs; the charm dir keeps charm-made files (events.log,
    # ops' .unit-state.db) and the StoredState / charm-state counter carries on.
    upgraded = tmp_path / "upgraded" / app
    shutil.copytree(c.CHARMS / app, upgraded)
    (upgraded / "REVISION").write_text("2\n")
    hooks_before = [e for e in rec.events(unit) if e.is_hook]
    revision_before = rune.status()["applications"][app]["charm-rev"]
    mark = rec.mark()
    rune("refresh", app, "--path", str(upgraded))
    c.settle(rune)
    new = rec.since(mark, unit)
    assert [e.name for e in new] == ["upgrade-charm", "config-changed"], c.describe(new)
    assert [e.raw["revision"] for e in new] == ["2", "2"]
    assert [e.count for e in new] == [hooks_before[-1].count + 1, hooks_before[-1].count + 2]
    kept = (c.charm_dir(rune, unit) / "events.log").read_text().splitlines()
    assert len(kept) == len(rec.events(unit)), "events.log in the charm dir was not kept"
    assert rune.status()["applications"][app]["charm-rev"] > revision_before
    code, task = c.run_action(rune, unit, "echo", "message=v2")
    assert code == 0, task
    assert task["results"]["revision"] == "2", task
    assert task["results"]["count"] == str(new[-1].count), task

    c.check_all_env(rec, [unit])
