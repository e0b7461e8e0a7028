"""What an agent leaves when it goes: a machine agent killed mid-hook leaves a hook its
successor must kill before the hook runs again; a removed unit's last hooks' output must
reach `rune debug-log` before its agent ends and the controller forgets it."""

from __future__ import annotations

import os
import signal
import textwrap
from pathlib import Path

import pytest

from runecraft.controller.providers.local import agent_pids
from tests import _waiting as waiting
from tests.integration.conftest import REPO, Rune, writable_by_machines

pytestmark = pytest.mark.e2e

DEPARTER = REPO / "tests" / "charms" / "departer"


def _sleeper_charm(directory: Path, shared: Path) -> Path:
    """A bash charm whose first install hook records its pids and sleeps; the install that
    runs again records which of those pids are still running as it starts."""
    (directory / "hooks").mkdir(parents=True)
    (directory / "metadata.yaml").write_text("name: sleeper\nsummary: s\ndescription: d\n")
    install = directory / "hooks" / "install"
    install.write_text(
        textwrap.dedent(f"""\
            #!/bin/bash
            shared={shared}
            if mkdir "$shared/first" 2>/dev/null; then
                sleep 600 &
                echo "$$ $!" > "$shared/pids.new" && mv "$shared/pids.new" "$shared/pids"
                wait
                exit 0
            fi
            seen=""
            for pid in $(cat "$shared/pids"); do
                state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)
                case "$state" in ""|Z|X) seen="$seen gone" ;; *) seen="$seen running" ;; esac
            done
            echo "$seen" > "$shared/rerun.new" && mv "$shared/rerun.new" "$shared/rerun"
            status-set active "installed again"
            """)
    )
    install.chmod(0o755)
    return directory


def test_a_restarted_machine_agent_kills_the_hook_left_running(rune: Rune, tmp_path: Path) -> None:
    shared = writable_by_machines(tmp_path / "shared")
    charm = _sleeper_charm(tmp_path / "sleeper", shared)
    rune("bootstrap")
    rune("deploy", str(charm))
    waiting.until("the first install hook", (shared / "pids").exists, timeout=180)
    hook, sleeper = (int(pid) for pid in (shared / "pids").read_text().split())
    (agent,) = agent_pids(rune.home / "machines")
    try:
        os.kill(agent, signal.SIGKILL)
        # The controller sees the agent gone and starts it again; it re-runs install.
        waiting.until("install to run again", (shared / "rerun").exists, timeout=300)
        assert (shared / "rerun").read_text().split() == ["gone", "gone"]
        assert not waiting.alive(hook) and not waiting.alive(sleeper)
        rune("wait", "--timeout", "5m")
    finally:
        for pid in (hook, sleeper):  # never leave the hook of a failed run behind
            if waiting.alive(pid):
                os.kill(pid, signal.SIGKILL)


def _lines(rune: Rune, unit: str) -> str:
    return rune("debug-log", "--replay", "--no-tail", "--limit", "0", "-i", unit).stdout


def _last_words(unit: str, *hooks: str) -> list[str]:
    return [
        said
        for hook in hooks
        for said in (f"departer: {hook} of {unit}", f"departer-echo: {hook} of {unit}")
    ]


def test_a_departing_units_last_hooks_reach_debug_log(rune: Rune) -> None:
    rune("bootstrap")
    rune("deploy", str(DEPARTER), "-n", "2")
    rune("wait", "--timeout", "5m")

    rune("remove-unit", "departer/1")
    waiting.until(
        "departer/1 to be gone",
        lambda: "departer/1" not in rune.status()["applications"]["departer"]["units"],
        timeout=300,
    )
    shown = _lines(rune, "departer/1")
    for said in _last_words(
        "departer/1", "peers-relation-departed", "peers-relation-broken", "stop", "remove"
    ):
        assert said in shown, f"{said!r} not in debug-log:\n{shown}"

    rune("remove-application", "departer")
    waiting.until(
        "departer to be gone", lambda: "departer" not in rune.status()["applications"], 300
    )
    shown = _lines(rune, "departer/0")
    for said in _last_words("departer/0", "peers-relation-broken", "stop", "remove"):
        assert said in shown, f"{said!r} not in debug-log:\n{shown}"
    assert "departer: peers-relation-departed of departer/0 (remote departer/1)" in shown
