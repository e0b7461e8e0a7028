"""Conformance: hook errors, `rune resolve` (charm-contract §8) and bad hook-tool input
(§4.1, §4.3), with real ops and bash charms."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration import _conformance as c
from tests.integration.conftest import Rune

FAILED = 'hook failed: "config-changed"'


def _fails_with_hook_error(rune: Rune) -> None:
    result = rune(*c.WAIT, check=False)
    assert result.returncode == 1, (result.stderr, c.unit_logs(rune))
    assert FAILED in result.stderr, (result.stderr, c.unit_logs(rune))


@pytest.mark.parametrize("flavour", ["ops", "bash"])
def test_hook_error_and_resolve(rune: Rune, tmp_path: Path, flavour: str) -> None:
    app = c.PAIRS[flavour].provider
    unit = f"{app}/0"
    rec = c.Recorder(tmp_path / "events")
    rune("bootstrap")
    # No automatic retries: the unit stays in error until `rune resolve`.
    rune("model-config", "automatically-retry-hooks=false")
    c.deploy(rune, app, rec.directory, units=1)
    c.settle(rune)
    last_good = [e for e in rec.events(unit) if e.is_hook][-1]

    # -- A failing hook puts the unit in error with Juju's message.
    mark = rec.mark()
    rune("config", app, "fail-hook=config-changed")
    _fails_with_hook_error(rune)
    doc = rune.status()["applications"][app]["units"][unit]
    assert doc["workload-status"]["current"] == "error", doc
    assert doc["workload-status"]["message"] == FAILED, doc
    assert doc["juju-status"]["current"] == "error", doc
    failed = rec.since(mark, unit)
    assert [(e.name, e.failing) for e in failed] == [("config-changed", True)], c.describe(failed)

    # -- While in error no hook runs (the config change below waits), but actions do.
    rune("config", app, "--reset", "fail-hook")
    code, task = c.run_action(rune, unit, "echo", "message=stuck")
    assert (code, task["status"]) == (0, "completed"), task
    since = rec.since(mark, unit)
    assert [e.name for e in since] == ["config-changed", "echo"], c.describe(since)
    doc = rune.status()["applications"][app]["units"][unit]
    assert doc["workload-status"] == {
        **doc["workload-status"],
        "current": "error",
        "message": FAILED,
    }

    # -- `rune resolve` retries the hook: it runs again (now succeeding) and the failed
    # run's buffered writes were dropped (the counter moved by one, not two).
    rune("resolve", unit)
    c.settle(rune)
    retried = [e for e in rec.since(mark, unit) if e.is_hook][1:]
    assert retried and retried[0].name == "config-changed", c.describe(retried)
    assert not retried[0].failing
    assert retried[0].count == last_good.count + 1, c.describe(retried)
    assert c.workload(rune.status(), unit) == {"current": "active", "message": "not related"}

    # -- `rune resolve --no-retry` skips the failed hook: it is not run again, the unit
    # carries on (no error) with the status the charm had set.
    mark = rec.mark()
    rune("config", app, "fail-hook=config-changed")
    _fails_with_hook_error(rune)
    rune("resolve", unit, "--no-retry")
    c.settle(rune)
    since = rec.since(mark, unit)
    assert [(e.name, e.failing) for e in since] == [("config-changed", True)], c.describe(since)
    assert c.workload(rune.status(), unit) == {"current": "active", "message": "not related"}

    c.check_all_env(rec, [unit])


def test_bad_hook_tool_input_is_refused_and_changes_nothing(rune: Rune, tmp_path: Path) -> None:
    """A follower's `probe` action feeds hook tools bad input (bash-provider/actions/probe):
    usage errors exit 2, refused operations exit 1, each with Juju's message, and none of
    them changes anything the unit, its peers or the other application can see."""
    pair = c.PAIRS["bash"]
    rec = c.Recorder(tmp_path / "events")
    rune("bootstrap")
    c.deploy(rune, pair.provider, rec.directory, units=2)
    c.deploy(rune, pair.requirer, rec.directory, units=1)
    rune("integrate", pair.provider, pair.requirer)
    c.settle(rune)
    status = rune.status()
    leader = c.leader_of(status, pair.provider)
    follower = next(u for u in c.unit_names(status, pair.provider) if u != leader)
    requirer = c.unit_names(status, pair.requirer)[0]
    before = {u: c.workload(status, u) for u in (leader, follower, requirer)}
    assert before[requirer]["message"] == f"saw token={c.TOKEN} from 2 units"

    mark = rec.mark()
    code, task = c.run_action(rune, follower, "probe")
    assert (code, task["status"]) == (0, "completed"), task
    probes = task["results"]["probes"]
    expected = {
        # probe: (exit code, text in the error line)
        "unknown-relation": ("2", "relation not found"),
        "unknown-relation-list": ("2", "relation not found"),
        "bad-flag": ("2", "no-such-flag"),
        "app-write": ("1", "cannot write relation settings"),
        "leader-set": ("1", "not the leader"),
        "big-state": ("1", ""),
        "bad-status": ("2", "frozen"),
    }
    for name, (rc, text) in expected.items():
        got = probes[name]
        assert got["rc"] == rc, (name, got)
        assert got["error"].startswith("ERROR "), (name, got)
        assert text in got["error"], (name, got)
    assert probes["no-relation-id"]["rc"] != "0", probes
    assert "no relation id specified" in probes["no-relation-id"]["error"], probes

    after = task["results"]["after"]
    assert "big" not in json.loads(after["state"]), after
    assert json.loads(after["leader-settings"]) == {"leader": leader}, after
    assert json.loads(after["ports"]) == ["8080/tcp"], after
    assert after["help-mentions-file"] == "yes", after

    # Nothing moved: no unit ran a hook because of the probe, statuses are as they were.
    c.settle(rune)
    status = rune.status()
    assert {u: c.workload(status, u) for u in before} == before
    for unit in (leader, follower, requirer):
        ran = [e for e in rec.since(mark, unit) if e.is_hook]
        assert not ran, f"{unit} ran {c.describe(ran)}"
    assert [e.name for e in rec.since(mark, follower)] == ["probe"]
