"""`rune replay`'s engine on a real charm directory, without a controller: the hook runs in a
scratch copy with the recorded environment, every tool answers from the recorded calls (in
order, repeats reused), an unrecorded write succeeds and goes nowhere, an unrecorded read
fails naming the call, the exit code is the hook's, and the charm directory is untouched."""

from __future__ import annotations

import hashlib
import shlex
import subprocess
from pathlib import Path

import pytest

from runecraft import errors
from runecraft.cli import _replay
from runecraft.schemas import hooks as hook_schema

HOOK = """#!/bin/sh
echo "first: $(relation-get -r db:3 - pg/1)"
echo "again: $(relation-get -r db:3 - pg/1)"
echo "leader: $(is-leader)"
relation-set -r db:3 answer=42
echo "in $PWD as $JUJU_UNIT_NAME for $JUJU_REMOTE_UNIT"
touch made-by-replay
state-get missing || echo "state-get refused: $?"
exit "$(config-get exit-code)"
"""


def charm(root: Path) -> Path:
    (root / "hooks").mkdir(parents=True)
    (root / "metadata.yaml").write_text("name: pgclient\n")
    hook = root / "hooks" / "db-relation-changed"
    hook.write_text(HOOK)
    hook.chmod(0o755)
    return root


def call(tool: str, *args: str, stdout: str = "", code: int = 0) -> hook_schema.ToolCallRecord:
    return hook_schema.ToolCallRecord(tool=tool, args=args, exit_code=code, stdout=stdout)


def recorded(exit_code: int) -> hook_schema.HookRunDetail:
    return hook_schema.HookRunDetail(
        id=9,
        unit="pgclient/0",
        hook="db-relation-changed",
        started=1_700_000_000.0,
        duration=0.5,
        exit_code=exit_code,
        outcome="failed" if exit_code else "succeeded",
        cause=hook_schema.HookCause(kind="relation", summary="relation db:3 changed by pg/1"),
        env={
            "JUJU_DISPATCH_PATH": "hooks/db-relation-changed",
            "JUJU_HOOK_NAME": "db-relation-changed",
            "JUJU_UNIT_NAME": "pgclient/0",
            "JUJU_REMOTE_UNIT": "pg/1",
            "JUJU_RELATION_ID": "db:3",
            "JUJU_CONTEXT_ID": hook_schema.REDACTED,
            "JUJU_CHARM_DIR": "/somewhere/else",
        },
        tool_calls=(
            call("relation-get", "-r", "db:3", "-", "pg/1", stdout="host=a\n"),
            call("relation-get", "-r", "db:3", "-", "pg/1", stdout="host=b\n"),
            call("is-leader", stdout="True\n"),
            call("relation-set", "-r", "db:3", "answer=42"),
            call("config-get", "exit-code", stdout=f"{exit_code}\n"),
        ),
    )


def digest(root: Path) -> str:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in files)).hexdigest()


@pytest.mark.parametrize("exit_code", [0, 3])
def test_a_replay_answers_from_the_record_and_exits_with_the_hooks_code(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], exit_code: int
) -> None:
    source = charm(tmp_path / "charm")
    before = digest(source)
    done = _replay.replay(recorded(exit_code), source)
    out, err = capfd.readouterr()
    assert done.exit_code == exit_code
    assert "first: host=a" in out and "again: host=b" in out and "leader: True" in out
    assert "as pgclient/0 for pg/1" in out
    assert "/rune-replay-" in out and str(source) not in out  # a scratch copy ran
    assert "state-get refused: 1" in out
    assert "the recorded run has no answer for `state-get missing`" in err
    assert done.answered == 5
    assert done.unanswered == ("state-get missing",)
    assert digest(source) == before and not (source / "made-by-replay").exists()


def test_repeats_reuse_answers_and_unrecorded_writes_succeed(tmp_path: Path) -> None:
    source = charm(tmp_path / "charm")
    (source / "hooks" / "db-relation-changed").write_text(
        "#!/bin/sh\nset -e\nis-leader\nis-leader\nstatus-set active hi\njuju-log hello\n"
    )
    run = recorded(0).model_copy(update={"tool_calls": (call("is-leader", stdout="True\n"),)})
    done = _replay.replay(run, source, keep=False)
    assert done.exit_code == 0
    assert done.answered == 2
    assert done.unanswered == ("status-set active hi", "juju-log hello")


def test_no_charm_here_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(errors.NotFoundError, match="--charm-dir"):
        _replay.find_charm_dir(tmp_path, "some-uuid", "pgclient/0")
    with pytest.raises(errors.InvalidSpecError, match="not a charm directory"):
        _replay.replay(recorded(0), tmp_path)
    machine = tmp_path / "machines" / "some-uuid" / "4" / "units" / "pgclient-0" / "charm"
    charm(machine)
    assert _replay.find_charm_dir(tmp_path, "some-uuid", "pgclient/0") == machine


def test_a_live_replay_exports_the_event_and_runs_the_handler(tmp_path: Path) -> None:
    command = _replay.live_command(recorded(0))
    assert "JUJU_CONTEXT_ID" not in command and "JUJU_CHARM_DIR" not in command
    assert "export JUJU_REMOTE_UNIT=pg/1" in command
    source = charm(tmp_path / "charm")
    (source / "hooks" / "db-relation-changed").write_text(
        '#!/bin/sh\necho "$JUJU_HOOK_NAME $JUJU_REMOTE_UNIT $JUJU_RELATION_ID"\nexit 4\n'
    )
    done = subprocess.run(
        ["/bin/bash", "-c", command], cwd=source, capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stdout) == (4, "db-relation-changed pg/1 db:3\n")
    assert shlex.split(command)  # one line of shell
