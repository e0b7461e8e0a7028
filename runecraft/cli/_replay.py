"""`rune replay`: run a recorded hook again against its recorded context.

By default the charm runs here, in a scratch copy of its directory (the unit's own, found
under the local substrate's machines, or `--charm-dir`), with the run's recorded `JUJU_*`
environment, and every hook tool answers from the tool calls the run recorded
(`_replay_tool`): what the hook read then, it reads again; what it writes goes nowhere. The
live model and the unit's own directory are never touched. A redacted value stays redacted.

With `--live` (`live_command`) the hook runs on the unit itself, as a `juju-exec` task with
the recorded event's variables: its tools read the live model and its writes are committed
as the task's (even when it exits non-zero), so it does change the model.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from runecraft import errors
from runecraft.schemas import hooks as hook_schema

__all__ = ["Replayed", "find_charm_dir", "live_command", "replay"]

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""What follows the replay's tools dir on PATH (the unit agent's default)."""
_TOOL = "replay-tool"


@dataclass(frozen=True)
class Replayed:
    """How a replay went."""

    exit_code: int
    answered: int
    """Tool calls answered from the record."""
    unanswered: tuple[str, ...]
    """Tool calls the record could not answer (`tool arg …`); writes among them went
    nowhere and succeeded."""


_LIVE_CONTEXT = frozenset(
    {
        "CHARM_DIR",
        "JUJU_AGENT_SOCKET_ADDRESS",
        "JUJU_AGENT_SOCKET_NETWORK",
        "JUJU_API_ADDRESSES",
        "JUJU_CHARM_DIR",
        "JUJU_CONTEXT_ID",
        "JUJU_MACHINE_ID",
        "JUJU_MODEL_NAME",
        "JUJU_MODEL_UUID",
        "JUJU_UNIT_NAME",
        "JUJU_VERSION",
    }
)
"""Variables the live unit's own context sets (the recorded ones would be stale)."""


def live_command(run: hook_schema.HookRunDetail) -> str:
    """The shell command that runs `run`'s hook on its unit in hook context: the recorded
    event's variables exported (redacted ones left out), then the charm's handler."""
    exports = [
        f"export {name}={shlex.quote(value)}"
        for name, value in sorted(run.env.items())
        if name not in _LIVE_CONTEXT and value != hook_schema.REDACTED
    ]
    handler = 'if [ -f ./dispatch ]; then exec ./dispatch; fi; exec "./$JUJU_DISPATCH_PATH"'
    return "; ".join([*exports, handler])


def find_charm_dir(home: Path, model_uuid: str, unit: str) -> Path:
    """The unit's charm directory on this machine (the local substrate's), or a clear error
    saying to give one."""
    name = unit.replace("/", "-")
    found = sorted((home / "machines" / model_uuid).glob(f"*/units/{name}/charm"))
    found = [path for path in found if (path / "metadata.yaml").is_file()]
    if not found:
        raise errors.NotFoundError(
            f'the charm directory of unit "{unit}" is not on this machine (units of the '
            "local substrate keep theirs under RUNECRAFT_HOME/machines): give one with "
            "--charm-dir"
        )
    return found[0]


def _install_tools(tools: Path) -> None:
    tools.mkdir()
    source = (Path(__file__).parent / "_replay_tool.py").read_text(encoding="utf-8")
    body = source.split("\n", 1)[1] if source.startswith("#!") else source
    script = tools / _TOOL
    script.write_text(f"#!{sys.executable} -I\n{body}", encoding="utf-8")
    script.chmod(0o755)
    for name in hook_schema.HOOK_TOOLS:
        (tools / name).symlink_to(_TOOL)


def _handler(charm: Path, env: dict[str, str]) -> Path | None:
    dispatch = charm / "dispatch"
    if dispatch.is_file():
        return dispatch
    path = env.get("JUJU_DISPATCH_PATH", "")
    handler = charm / path if path else None
    return handler if handler is not None and handler.is_file() else None


def _environment(run: hook_schema.HookRunDetail, charm: Path, scratch: Path) -> dict[str, str]:
    env = {
        **run.env,
        "JUJU_CHARM_DIR": str(charm),
        "CHARM_DIR": str(charm),
        "JUJU_CONTEXT_ID": f"replay-{run.unit}-{run.id}",
        "JUJU_AGENT_SOCKET_ADDRESS": str(scratch / "agent.sock"),
        "PATH": f"{scratch / 'tools'}{os.pathsep}{SYSTEM_PATH}",
        "LANG": "C.UTF-8",
        "HOME": str(scratch),
        "RUNECRAFT_REPLAY_CALLS": str(scratch / "calls.json"),
        "RUNECRAFT_REPLAY_LOG": str(scratch / "replayed.jsonl"),
    }
    return env


def _summary(scratch: Path) -> tuple[int, tuple[str, ...]]:
    log = scratch / "replayed.jsonl"
    if not log.exists():
        return 0, ()
    entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line]
    answered = sum(1 for entry in entries if entry["answer"] >= 0)
    missing = tuple(
        " ".join([entry["tool"], *entry["args"]]) for entry in entries if entry["answer"] < 0
    )
    return answered, missing


def replay(run: hook_schema.HookRunDetail, charm_dir: Path, *, keep: bool = False) -> Replayed:
    """Run `run`'s hook in a scratch copy of `charm_dir`; its output goes to ours.

    With `keep`, the scratch directory stays (its path is printed) for a look at what the
    hook left behind."""
    if not (charm_dir / "metadata.yaml").is_file():
        raise errors.InvalidSpecError(f"{charm_dir} is not a charm directory (no metadata.yaml)")
    scratch = Path(tempfile.mkdtemp(prefix="rune-replay-"))
    try:
        charm = scratch / "charm"
        shutil.copytree(charm_dir, charm, symlinks=True)
        _install_tools(scratch / "tools")
        calls = [call.model_dump(mode="json") for call in run.tool_calls]
        (scratch / "calls.json").write_text(json.dumps(calls), encoding="utf-8")
        env = _environment(run, charm, scratch)
        handler = _handler(charm, env)
        if handler is None:
            sys.stderr.write(f"the charm has no handler for {run.hook}: nothing to run\n")
            return Replayed(exit_code=0, answered=0, unanswered=())
        try:
            done = subprocess.run(
                [str(handler)], cwd=charm, env=env, stdin=subprocess.DEVNULL, check=False
            )
        except OSError as exc:
            raise errors.PermanentError(f"cannot run {handler}: {exc}") from exc
        answered, unanswered = _summary(scratch)
        return Replayed(exit_code=done.returncode, answered=answered, unanswered=unanswered)
    finally:
        if keep:
            sys.stderr.write(f"scratch directory kept: {scratch}\n")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
