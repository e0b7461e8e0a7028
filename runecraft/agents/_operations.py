"""Pieces of running one operation that need no agent state: environments, commits,
action outcomes and charm deployment.

* `hook_relation` turns a relation hook's operation into what the hook context and the
  process environment need.
* `action_outcome` turns an action's run (results, `action-fail`, captured output, exit
  code) into the `ActionOutcome` sent in its commit (charm-contract §8).
* `deploy_charm` unpacks a charm archive over the charm dir as Juju's manifest deployer
  does: files only the old charm had are deleted, files the charm made (`.unit-state.db`)
  stay.
"""

from __future__ import annotations

import base64
import io
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runecraft.agents import _context, hookrunner, uniter
from runecraft.schemas import bus

__all__ = [
    "action_outcome",
    "deploy_charm",
    "hook_relation",
    "make_commit",
    "not_implemented",
]


def hook_relation(op: uniter.Operation) -> _context.HookRelation | None:
    """The relation a relation hook runs for (None for other operations)."""
    if op.relation_id is None:
        return None
    return _context.HookRelation(
        relation_id=op.relation_id,
        endpoint=op.endpoint,
        remote_unit=op.remote_unit,
        remote_app=op.remote_app,
        departing_unit=op.departing_unit if op.relation_event == "departed" else "",
    )


def not_implemented(unit: str) -> str:
    """Juju's message for an action the charm has no handler for."""
    return f'action not implemented on unit "{unit}"'


def _output(results: dict[str, Any], key: str, data: bytes) -> None:
    """Juju's `encodeBytes`: UTF-8 text as is, anything else base64 with `<key>-encoding`."""
    if not data:
        return
    try:
        results[key] = data.decode("utf-8")
    except UnicodeDecodeError:
        results[key] = base64.b64encode(data).decode()
        results[f"{key}-encoding"] = "base64"


def action_outcome(
    run: _context.ActionRun, result: hookrunner.HookResult | None, *, unit: str, message: str = ""
) -> bus.ActionOutcome:
    """How an action ended: failed on a non-zero exit (`exit status N`), on `action-fail`
    (its message), on a missing handler or an interruption (`message`); else completed."""
    results = dict(run.results)
    if result is not None and result.exit_code is not None:
        results["return-code"] = result.exit_code
        _output(results, "stdout", result.stdout)
        _output(results, "stderr", result.stderr)
    status: str = "completed"
    text = ""
    if message:
        status, text = "failed", message
    elif result is not None and result.outcome is hookrunner.HookOutcome.MISSING:
        status, text = "failed", not_implemented(unit)
    elif result is not None and not result.ok:
        status, text = "failed", result.message
    elif run.failed:
        status, text = "failed", run.message
    return bus.ActionOutcome(
        id=run.id,
        status="failed" if status == "failed" else "completed",
        message=text,
        results=results,
        log=tuple(run.log),
    )


def make_commit(
    *,
    unit: str,
    seq: int,
    op: uniter.Operation,
    parts: _context.CommitParts | None,
    action: bus.ActionOutcome | None = None,
) -> bus.HookCommit:
    """The commit of one operation: its buffered writes (if it succeeded), scope moves and
    an action's outcome."""
    writes = parts.writes() if parts is not None else {}
    return bus.HookCommit(
        unit=unit, seq=seq, hook=op.label, scope=uniter.scope_change(op), action=action, **writes
    )


Unpacker = Callable[[bytes, Path], None]


def _archive_files(archive: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        return sorted(info.filename for info in zf.infolist() if not info.is_dir())


def deploy_charm(archive: bytes, charm_dir: Path, manifest: Path, unpack: Unpacker) -> None:
    """Put `archive` into `charm_dir`, deleting files only the previous charm had.

    `manifest` (outside the charm dir) lists the files of the charm deployed last; files not
    in it (made by the charm or its hooks) are never touched.
    """
    unpack(archive, charm_dir)
    files = _archive_files(archive)
    try:
        previous = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        previous = []
    root = Path(os.path.realpath(charm_dir))
    for name in sorted(set(previous) - set(files)):
        path = charm_dir / name
        if (
            isinstance(name, str)
            and path.is_file()
            and not path.is_symlink()
            and Path(os.path.realpath(path)).is_relative_to(root)
        ):
            path.unlink()
    tmp = manifest.with_name(f".{manifest.name}.tmp")
    tmp.write_text(json.dumps(files), encoding="utf-8")
    tmp.replace(manifest)
