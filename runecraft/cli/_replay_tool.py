#!/usr/bin/env python3
"""The hook tools of a replayed hook: every tool answers from the calls the recorded run made.

Installed by `rune replay` as one script in a scratch tools dir, linked as every hook tool,
and run with an isolated interpreter (stdlib only). A call is answered by the first recorded
call of the same tool and arguments not answered yet (then by any such call): its stdout,
stderr and exit code, as recorded. A write the record does not hold (`juju-log`,
`status-set`, `relation-set`, …) succeeds and goes nowhere; any other call the record cannot
answer fails, naming it. Nothing reaches the controller: the live model is never changed.
Each call is appended to `RUNECRAFT_REPLAY_LOG` (JSON lines) for the summary.
"""

import json
import os
import sys

WRITES = frozenset(
    {
        "action-fail",
        "action-log",
        "action-set",
        "application-version-set",
        "close-port",
        "juju-log",
        "juju-reboot",
        "leader-set",
        "open-port",
        "relation-set",
        "secret-grant",
        "secret-remove",
        "secret-revoke",
        "secret-set",
        "state-delete",
        "state-set",
        "status-set",
        "storage-add",
    }
)
"""Tools that only change something: unanswered, they succeed without effect."""


def _answer(calls: list[dict[str, object]], used: set[int], tool: str, args: list[str]) -> int:
    """The index of the recorded call answering this one (-1: none)."""
    same = [i for i, call in enumerate(calls) if call["tool"] == tool and call["args"] == args]
    fresh = [i for i in same if i not in used]
    if fresh:
        return fresh[0]
    return same[0] if same else -1


def main() -> int:
    """Answer the tool named by argv[0]; returns its exit code."""
    tool = os.path.basename(sys.argv[0])
    args = sys.argv[1:]
    with open(os.environ["RUNECRAFT_REPLAY_CALLS"], encoding="utf-8") as file:
        calls = json.load(file)
    log_path = os.environ["RUNECRAFT_REPLAY_LOG"]
    used: set[int] = set()
    if os.path.exists(log_path):
        with open(log_path, encoding="utf-8") as file:
            used = {json.loads(line)["answer"] for line in file if line.strip()}
    index = _answer(calls, used, tool, args)
    if index < 0:
        code = 0 if tool in WRITES else 1
        answer = {"tool": tool, "args": args, "answer": -1, "exit_code": code}
        if code:
            quoted = " ".join([tool, *args])
            sys.stderr.write(f"ERROR replay: the recorded run has no answer for `{quoted}`\n")
    else:
        call = calls[index]
        sys.stdout.write(str(call["stdout"]))
        sys.stderr.write(str(call["stderr"]))
        code = int(call["exit_code"])
        answer = {"tool": tool, "args": args, "answer": index, "exit_code": code}
    with open(log_path, "a", encoding="utf-8") as file:
        file.write(json.dumps(answer) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
