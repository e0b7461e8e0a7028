"""What the unit agent keeps of a hook run: credential-looking values and the hook's context
token redacted, secret content of tool calls redacted, every part bounded with a marker, and
the cause named from the operation the uniter chose."""

from __future__ import annotations

import dataclasses
import json

from runecraft.agents import _hookrecord, hooktools, uniter
from runecraft.schemas import bus
from runecraft.schemas import hooks as hook_schema

R = hook_schema.REDACTED
REMOTE = bus.UnitRemoteState(
    unit="db/0",
    application="db",
    charm=bus.CharmRef(sha256="c" * 64, name="db"),
    config_hash="f" * 64,
)


def test_the_replays_tool_list_is_the_agents() -> None:
    assert sorted(hook_schema.HOOK_TOOLS) == sorted(hooktools.TOOLS)


def test_the_environment_keeps_juju_variables_without_credentials_or_the_context_token() -> None:
    env = {
        "JUJU_HOOK_NAME": "install",
        "JUJU_CONTEXT_ID": "db/0-install-s3cr3t",
        "JUJU_SECRET_ID": "secret:abc",
        "JUJU_CHARM_HTTP_PROXY": "http://user:hunter2@proxy:3128",
        "JUJU_DB_PASSWORD": "hunter2",
        "JUJU_API_TOKEN": "t0k3n",
        "CHARM_DIR": "/charm",
        "PATH": "/bin",
        "HOME": "/root",
    }
    recorded = _hookrecord.recorded_env(env)
    assert recorded == {
        "CHARM_DIR": "/charm",
        "JUJU_API_TOKEN": hook_schema.REDACTED,
        "JUJU_CHARM_HTTP_PROXY": f"http://user:{hook_schema.REDACTED}@proxy:3128",
        "JUJU_CONTEXT_ID": hook_schema.REDACTED,
        "JUJU_DB_PASSWORD": hook_schema.REDACTED,
        "JUJU_HOOK_NAME": "install",
        "JUJU_SECRET_ID": "secret:abc",
    }
    assert "hunter2" not in json.dumps(recorded) and "s3cr3t" not in json.dumps(recorded)


def test_secret_content_in_tool_calls_is_redacted() -> None:
    calls = _hookrecord.ToolCalls()
    calls.add("secret-get", ["secret:abc"], 0, b'{"password": "hunter2"}\n', b"")
    calls.add("secret-set", ["secret:abc", "password=hunter2", "user=bob"], 0, b"", b"")
    calls.add("relation-set", ["-r", "db:1", "api_key=k3y", "host=h"], 0, b"", b"")
    calls.add("relation-get", ["--format=json", "-"], 0, b'{"password": "p4ss", "host": "h"}', b"")
    calls.add("config-get", ["greeting"], 0, b"hi\n", b"")
    calls.add("config-get", ["admin-password"], 0, b"hunter2\n", b"")
    calls.add("leader-get", ["--format=json", "db_token"], 0, b'"t0k3n"\n', b"")
    assert [(c.tool, c.args, c.stdout) for c in calls.calls] == [
        ("secret-get", ("secret:abc",), hook_schema.REDACTED),
        (
            "secret-set",
            ("secret:abc", f"password={hook_schema.REDACTED}", f"user={hook_schema.REDACTED}"),
            "",
        ),
        ("relation-set", ("-r", "db:1", f"api_key={hook_schema.REDACTED}", "host=h"), ""),
        (
            "relation-get",
            ("--format=json", "-"),
            json.dumps({"password": hook_schema.REDACTED, "host": "h"}),
        ),
        ("config-get", ("greeting",), "hi\n"),
        ("config-get", ("admin-password",), R),
        ("leader-get", ("--format=json", "db_token"), R),
    ]


def test_tool_calls_are_bounded_and_cuts_are_marked() -> None:
    calls = _hookrecord.ToolCalls()
    big = b"x" * (hook_schema.MAX_TOOL_OUTPUT + 10)
    calls.add("relation-get", ["-"] * 70, 0, big, b"")
    first = calls.calls[0]
    assert first.stdout.startswith("x" * hook_schema.MAX_TOOL_OUTPUT)
    assert first.stdout.endswith(f"{hook_schema.TRUNCATED} 10 more characters")
    assert len(first.args) == 65 and first.args[-1] == f"{hook_schema.TRUNCATED} 6 more arguments"
    for _ in range(hook_schema.MAX_TOOL_CALLS + 5):
        calls.add("juju-log", ["hi"], 0, b"", b"")
    assert len(calls.calls) == hook_schema.MAX_TOOL_CALLS
    assert calls.dropped == 6
    total = sum(len(c.stdout) + len(c.stderr) + sum(map(len, c.args)) for c in calls.calls)
    assert total <= hook_schema.MAX_TOOL_BYTES + hook_schema.MAX_TOOL_OUTPUT

    budget = _hookrecord.ToolCalls()
    for _ in range(100):
        budget.add("relation-get", ["-"], 0, big, b"")
    assert budget.dropped > 0
    assert len(budget.calls) < 100


def _op(**fields: object) -> uniter.Operation:
    values: dict[str, object] = {"id": "7", "kind": uniter.OpKind.RUN_HOOK, "hook": "install"}
    values.update(fields)
    return uniter.Operation(**values)  # type: ignore[arg-type]


def test_the_cause_names_the_change_the_hook_ran_for() -> None:
    local = uniter.LocalState(config_hash="old", installed=True)
    relation = _op(
        hook="db-relation-changed",
        relation_id=3,
        endpoint="db",
        relation_event="changed",
        remote_unit="pg/1",
        remote_app="pg",
        change_version=4,
    )
    assert _hookrecord.cause(relation, local, REMOTE).summary == (
        "relation db:3 changed by pg/1 (version 4)"
    )
    assert _hookrecord.cause(relation, local, REMOTE).details["remote_unit"] == "pg/1"
    config = _op(hook="config-changed", config_hash="ab" * 32)
    assert _hookrecord.cause(config, local, REMOTE).summary == "config hash abababababab"
    action = _op(kind=uniter.OpKind.RUN_ACTION, hook="", action_id="12", action_name="backup")
    assert _hookrecord.cause(action, local, REMOTE).details == {
        "action_id": "12",
        "action": "backup",
    }
    leader = _op(hook="leader-elected")
    assert _hookrecord.cause(leader, local, REMOTE).kind == "leadership"
    failed = uniter.HookError(hook="config-changed", attempts=2, retry_at=0.0, op=config)
    retry = _hookrecord.cause(config, dataclasses.replace(local, error=failed), REMOTE)
    assert (retry.kind, retry.details["attempt"], retry.details["first_cause"]) == (
        "retry",
        "3",
        "config",
    )
