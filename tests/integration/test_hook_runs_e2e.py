"""End to end on the local substrate: `rune hooks` lists every hook a unit ran, with its
duration and the change that caused it; `rune show-hook` shows a run's environment and
tool calls; `rune replay` runs a recorded hook again here and exits with its code, changing
nothing in the model; bad input is refused by name, with a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runecraft.schemas import hooks as hook_schema
from tests.integration.conftest import EXAMPLES, Rune, until
from tests.integration.test_local_e2e import hook_log

pytestmark = pytest.mark.e2e

FLAKY = {
    "metadata.yaml": "name: flaky\nsummary: flaky\ndescription: exits as configured\n",
    "config.yaml": "options:\n  exit-code:\n    type: int\n    default: 0\n",
    "hooks/install": "#!/bin/sh\njuju-log installing\n",
    "hooks/config-changed": (
        '#!/bin/sh\ncode="$(config-get exit-code)"\njuju-log "exiting $code"\nexit "$code"\n'
    ),
    "hooks/start": "#!/bin/sh\nstatus-set active started\n",
}


def write_charm(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if name.startswith("hooks/"):
            path.chmod(0o755)
    return root


def hook_runs(rune: Rune, unit: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(
        rune("hooks", unit, "--format", "json", "--limit", "200").stdout
    )
    return found


def test_hooks_show_hook_and_replay_of_a_deployed_charm(rune: Rune, tmp_path: Path) -> None:
    rune("bootstrap")
    rune("deploy", str(EXAMPLES / "hello-bash"))
    rune("deploy", str(write_charm(tmp_path / "flaky", FLAKY)))
    rune("wait", "--timeout", "5m")
    rune("config", "hello-bash", "message=bonjour")
    rune("wait", "--timeout", "5m")

    unit = "hello-bash/0"
    runs = hook_runs(rune, unit)
    ran = [r["hook"] for r in runs if r["outcome"] != "missing"]
    assert ran == hook_log(rune, unit)  # every hook the unit ran, in order
    assert ran[:4] == ["install", "leader-elected", "config-changed", "start"]
    assert [r["id"] for r in runs] == sorted({r["id"] for r in runs})
    assert all(r["duration"] >= 0 and r["exit_code"] == 0 for r in runs if r["hook"] in ran)
    assert [r["started"] for r in runs] == sorted(r["started"] for r in runs)
    assert runs[0]["cause"]["kind"] == "lifecycle"
    first, last = (r for r in runs if r["hook"] == "config-changed")
    assert last is runs[-1]
    assert last["cause"]["kind"] == "config"
    assert last["cause"]["details"]["config_hash"] != first["cause"]["details"]["config_hash"]
    table = rune("hooks", unit).stdout
    assert "config-changed" in table and last["cause"]["summary"] in table

    shown = json.loads(rune("show-hook", unit, str(last["id"]), "--format", "json").stdout)
    assert shown["env"]["JUJU_HOOK_NAME"] == "config-changed"
    assert shown["env"]["JUJU_UNIT_NAME"] == unit
    assert shown["env"]["JUJU_CONTEXT_ID"] == hook_schema.REDACTED
    calls = {(c["tool"], tuple(c["args"])): c for c in shown["tool_calls"]}
    assert calls[("config-get", ("message",))]["stdout"] == "bonjour\n"
    assert calls[("status-set", ("active", "bonjour"))]["exit_code"] == 0
    assert "JUJU_HOOK_NAME: config-changed" in rune("show-hook", unit, str(last["id"])).stdout

    revision = rune.status()["model"]
    replayed = rune("replay", unit, str(last["id"]), check=False)
    assert replayed.returncode == 0, replayed.stderr
    assert "exit 0, recorded 0" in replayed.stderr
    assert hook_runs(rune, unit) == runs  # the replay ran nothing in the model
    assert rune.status()["model"] == revision

    # Live, it runs on the unit itself (as a juju-exec task, recorded as a run of its own).
    live = rune("replay", unit, str(last["id"]), "--live", check=False)
    assert live.returncode == 0, live.stderr
    assert "live on hello-bash/0" in live.stderr
    after = hook_runs(rune, unit)
    assert after[: len(runs)] == runs
    assert [(r["hook"], r["cause"]["kind"], r["exit_code"]) for r in after[len(runs) :]] == [
        ("action juju-exec", "action", 0)
    ]
    shown = json.loads(rune("show-hook", unit, str(after[-1]["id"]), "--format", "json").stdout)
    live_calls = {(c["tool"], tuple(c["args"])) for c in shown["tool_calls"]}
    assert ("config-get", ("message",)) in live_calls
    exec_run = rune("replay", unit, str(after[-1]["id"]), check=False)
    assert exec_run.returncode == 1 and "`rune exec` command" in exec_run.stderr

    # A failing hook is replayed with its exit code.
    rune("config", "flaky", "exit-code=3")
    failed = until(
        rune,
        "default",
        "a failed run of flaky/0",
        lambda: next((r for r in hook_runs(rune, "flaky/0") if r["outcome"] == "failed"), None),
    )
    assert (failed["hook"], failed["exit_code"]) == ("config-changed", 3)
    replayed = rune("replay", "flaky/0", str(failed["id"]), check=False)
    assert replayed.returncode == 3, replayed.stderr
    assert "exit 3, recorded 3" in replayed.stderr

    # Bad input: named, non-zero, nothing changed.
    unknown = rune("hooks", "nope/0", check=False)
    assert unknown.returncode == 1 and 'unit "nope/0" not found' in unknown.stderr
    not_a_unit = rune("hooks", "hello-bash", check=False)
    assert not_a_unit.returncode != 0 and 'invalid unit name "hello-bash"' in not_a_unit.stderr
    for limit in ("0", "-1"):
        bad = rune("hooks", unit, "--limit", limit, check=False)
        assert bad.returncode == 2 and "--limit" in bad.stderr, bad.stderr
    for bad_id in ("abc", "0"):
        bad = rune("show-hook", unit, bad_id, check=False)
        assert bad.returncode == 2 and "ID" in bad.stderr, bad.stderr
    gone = rune("show-hook", unit, "99999", check=False)
    assert gone.returncode == 1 and "hook run 99999" in gone.stderr
    nothing = rune("replay", unit, "99999", check=False)
    assert nothing.returncode == 1 and "hook run 99999" in nothing.stderr
    elsewhere = rune("replay", unit, str(last["id"]), "--charm-dir", str(tmp_path), check=False)
    assert elsewhere.returncode == 1 and "not a charm directory" in elsewhere.stderr
