"""Hook tools end to end: the installed client script, a real socket server, real contexts.

This module holds the transport and the basic tools (logging, status, leadership, config)
and the `make_harness` factory the other `test_hook_tools_*` modules use.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import shutil
import stat
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from runecraft.agents import _context, _hooktool, _relations, _toolserver, _unitlog, hooktools
from runecraft.schemas import bus

TIMEOUT = 30.0
MODEL_UUID = "0b1e4d1c-0000-4000-8000-000000000001"


@dataclass
class RecordingBackend:
    unit_statuses: list[bus.StatusValue] = field(default_factory=list)
    app_statuses: list[bus.StatusValue] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    leader_sets: list[dict[str, str]] = field(default_factory=list)
    action_logs: list[tuple[str, str]] = field(default_factory=list)

    async def set_unit_status(self, status: bus.StatusValue) -> None:
        self.unit_statuses.append(status)

    async def set_app_status(self, status: bus.StatusValue) -> None:
        self.app_statuses.append(status)

    async def set_workload_version(self, version: str) -> None:
        self.versions.append(version)

    async def leader_set(self, settings: Mapping[str, str]) -> None:
        self.leader_sets.append(dict(settings))

    async def action_log(self, action_id: str, message: str) -> None:
        self.action_logs.append((action_id, message))


@dataclass
class Harness:
    tools: Path
    socket: Path
    charm_dir: Path
    log_path: Path
    backend: RecordingBackend
    server: _toolserver.ToolServer
    ctx: hooktools.HookContext
    binding: _toolserver.HookBinding

    async def run(
        self,
        tool: str,
        *args: str,
        context: str | None = None,
        stdin: bytes | None = None,
        keep_stdin_open: bool = False,
    ) -> tuple[int, str, str]:
        env = {
            "PATH": f"{self.tools}:/usr/bin:/bin",
            "JUJU_CONTEXT_ID": self.ctx.id if context is None else context,
            "JUJU_AGENT_SOCKET_ADDRESS": str(self.socket),
        }
        process = await asyncio.create_subprocess_exec(
            str(self.tools / tool),
            *args,
            env=env,
            cwd=self.charm_dir,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(TIMEOUT):
            if keep_stdin_open:
                assert process.stdin is not None
                out, err = await asyncio.gather(
                    process.stdout.read(),  # type: ignore[union-attr]
                    process.stderr.read(),  # type: ignore[union-attr]
                )
                code = await process.wait()
                process.stdin.close()
            else:
                out, err = await process.communicate(stdin)
                code = process.returncode
        assert code is not None
        return code, out.decode(), err.decode()

    async def json(self, tool: str, *args: str, stdin: bytes | None = None) -> Any:
        """Run a tool with `--format=json` and decode what it printed (it must succeed)."""
        code, out, err = await self.run(tool, *args, "--format=json", stdin=stdin)
        assert (code, err) == (0, ""), (tool, args, code, err)
        return json.loads(out)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""


def remote(**changes: Any) -> bus.UnitRemoteState:
    base: dict[str, Any] = {
        "unit": "app/0",
        "application": "app",
        "charm": bus.CharmRef(sha256="c1", name="app"),
        "config_hash": "h1",
        "config": {"name": "demo", "port": 8080, "ratio": 0.5, "debug": True, "motd": ""},
    }
    return bus.UnitRemoteState(**{**base, **changes})


METADATA = (
    "name: app\n"
    "requires:\n  db: {interface: mysql}\n"
    "provides:\n  website: {interface: http}\n"
    "peers:\n  cluster: {interface: app-peers}\n"
    "extra-bindings:\n  admin: null\n"
)


async def make_harness(
    tmp_path: Path,
    *,
    leader: bool,
    hook: str = "install",
    state: bus.UnitRemoteState | None = None,
    relations: Mapping[int, _relations.RelationState] | None = None,
    hook_relation: hooktools.HookRelation | None = None,
    relation_event: str = "",
    pending: tuple[bus.HookCommit, ...] = (),
    ports: tuple[str, ...] = (),
    action: hooktools.ActionRun | None = None,
    client: _toolserver.ToolClient = "auto",
    bind_test_process: bool = True,
) -> AsyncIterator[Harness]:
    """A served hook context; unless told otherwise the test process plays the hook (the
    tools it starts are its descendants), else the test reports a hook pid itself."""
    base = tmp_path / "u"
    charm = base / "charm"
    charm.mkdir(parents=True)
    (charm / "metadata.yaml").write_text(METADATA)
    (charm / "config.yaml").write_text(
        "options:\n"
        "  name: {type: string, default: demo}\n"
        "  port: {type: int, default: 8080}\n"
        "  ratio: {type: float}\n"
        "  debug: {type: boolean}\n"
        "  motd: {type: string}\n"
        "  unset: {type: string}\n"
    )
    _toolserver.install_tools(base / "tools", client=client)
    log_path = base / "unit.log"
    unit_log = _unitlog.UnitLog(log_path, "app/0")
    backend = RecordingBackend()
    ctx = _context.build(
        remote=state if state is not None else remote(leader=leader),
        relations=relations or {},
        hook_relation=hook_relation,
        relation_event=relation_event,
        pending=pending,
        ports=ports,
        id=f"app/0-{hook or 'action'}-abc123",
        hook=hook,
        charm_dir=charm,
        log=unit_log,
        backend=backend,
        model_uuid=MODEL_UUID,
        unit_status=bus.StatusValue(status="maintenance", message="installing"),
        action=action,
    )
    async with _toolserver.ToolServer(base / "agent.sock") as server:
        with server.serving(ctx) as binding:
            if bind_test_process:
                binding.started(os.getpid())
            yield Harness(
                tools=base / "tools",
                socket=base / "agent.sock",
                charm_dir=charm,
                log_path=log_path,
                backend=backend,
                server=server,
                ctx=ctx,
                binding=binding,
            )
    unit_log.close()


@pytest.fixture
async def leader(tmp_path: Path) -> AsyncIterator[Harness]:
    async for harness in make_harness(tmp_path, leader=True):
        yield harness


@pytest.fixture
async def tracing(tmp_path: Path) -> AsyncIterator[Harness]:
    """A leader whose model's logging-config keeps every `juju-log` level."""
    state = remote(leader=True, log_level="TRACE")
    async for harness in make_harness(tmp_path, leader=True, state=state):
        yield harness


@pytest.fixture
async def follower(tmp_path: Path) -> AsyncIterator[Harness]:
    async for harness in make_harness(tmp_path, leader=False):
        yield harness


@pytest.fixture(params=["perl", "python"])
async def each_client(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    """A leader's harness with each client: the perl one and the Python fallback."""
    async for harness in make_harness(tmp_path, leader=True, client=request.param):
        yield harness


# --- installation and transport --------------------------------------------------------------


async def test_tools_dir_is_one_script_plus_symlinks(leader: Harness) -> None:
    script = leader.tools / _toolserver.CLIENT_NAME
    first_line = script.read_text().splitlines()[0]
    assert first_line == f"#!{shutil.which('perl')}"  # perl-base is Essential on Debian
    assert os.access(script, os.X_OK)
    names = {p.name for p in leader.tools.iterdir() if p.is_symlink()}
    assert names == set(hooktools.TOOLS)
    assert {"juju-log", "status-set", "status-get", "is-leader", "config-get"} <= names
    for name in names:
        assert os.readlink(leader.tools / name) == _toolserver.CLIENT_NAME


async def test_socket_is_private(leader: Harness) -> None:
    mode = leader.socket.stat().st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o600


def test_the_python_client_runs_isolated() -> None:
    first_line = _toolserver.client_script("python").splitlines()[0]
    assert first_line.startswith("#!/") and first_line.endswith(" -IS")


async def test_wrong_context_id_is_refused(each_client: Harness) -> None:
    code, out, err = await each_client.run("is-leader", context="app/0-start-other")
    assert (code, out) == (1, "")
    assert err == 'ERROR bad context id "app/0-start-other"\n'


async def test_no_running_hook_refuses_everything(tmp_path: Path) -> None:
    async for harness in make_harness(tmp_path, leader=True):
        harness.server._binding = None
        code, _, err = await harness.run("is-leader")
        assert code == 1
        assert "bad context id" in err


async def test_tool_without_stdin_does_not_wait_for_it(each_client: Harness) -> None:
    code, out, _ = await each_client.run("is-leader", keep_stdin_open=True)
    assert (code, out) == (0, "True\n")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--file", "-"], True),
        (["-r", "db:1", "--file=-"], True),
        (["--file", "data.yaml"], False),
        (["--", "--file", "-"], False),
        (["--file"], False),
        ([], False),
    ],
)
def test_client_reads_stdin_only_for_file_dash(args: list[str], expected: bool) -> None:
    assert _hooktool.wants_stdin(args) is expected


async def test_help_lists_flags_and_exits_zero(leader: Harness) -> None:
    code, out, err = await leader.run("status-set", "--help")
    assert (code, err) == (0, "")
    assert out.startswith("Usage: status-set [options] <maintenance | blocked")
    assert "--application" in out
    code, out, _ = await leader.run("config-get", "-h")
    assert code == 0
    assert "-a, --all" in out and "--format" in out and "-o, --output" in out


# --- juju-log --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["hello", "world"], "INFO unit.app/0.juju-log hello world"),
        (["-l", "WARNING", "careful"], "WARNING unit.app/0.juju-log careful"),
        (
            ["--log-level", "DEBUG", "--", "-starts-with-dash"],
            "DEBUG unit.app/0.juju-log -starts-with-dash",
        ),
        (["--log-level=error", "boom"], "ERROR unit.app/0.juju-log boom"),
        (["--debug", "details"], "DEBUG unit.app/0.juju-log details"),
        (["-lTRACE", "tiny"], "TRACE unit.app/0.juju-log tiny"),
    ],
)
async def test_juju_log_levels(tracing: Harness, args: list[str], line: str) -> None:
    code, out, err = await tracing.run("juju-log", *args)
    assert (code, out, err) == (0, "", "")
    assert line in tracing.log()


@pytest.mark.parametrize(
    ("args", "kept"),
    [
        (["--debug", "details"], False),
        (["-l", "DEBUG", "Emitting Juju event config_changed."], False),
        (["-l", "TRACE", "tiny"], False),
        (["-l", "INFO", "said"], True),
        (["-l", "WARN", "careful"], True),
    ],
)
async def test_juju_log_below_unit_level_is_dropped_and_exits_zero(
    leader: Harness, args: list[str], kept: bool
) -> None:
    """The default logging-config (`<root>=INFO`) keeps no DEBUG or TRACE `juju-log` line."""
    assert leader.ctx.remote.log_level == "INFO"
    code, out, err = await leader.run("juju-log", *args)
    assert (code, out, err) == (0, "", "")
    assert (args[-1] in leader.log()) is kept


async def test_juju_log_unknown_level_warns_and_logs_info(leader: Harness) -> None:
    code, _, _ = await leader.run("juju-log", "-l", "LOUD", "msg")
    assert code == 0
    log = leader.log()
    assert 'WARNING unit.app/0.juju-log Specified log level of "LOUD" is not valid' in log
    assert "INFO unit.app/0.juju-log msg" in log


async def test_juju_log_without_message_is_usage_error(leader: Harness) -> None:
    assert await leader.run("juju-log") == (2, "", "ERROR no message specified\n")


# --- status-set / status-get -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["active"], bus.StatusValue(status="active", message="")),
        (
            ["blocked", "need a relation"],
            bus.StatusValue(status="blocked", message="need a relation"),
        ),
        (
            ["--application=False", "active", "--", "-ok"],
            bus.StatusValue(status="active", message="-ok"),
        ),
        (
            ["waiting", "--application=0", "for db"],
            bus.StatusValue(status="waiting", message="for db"),
        ),
        (
            ["maintenance", "--", "--weird"],
            bus.StatusValue(status="maintenance", message="--weird"),
        ),
    ],
)
async def test_status_set_unit(leader: Harness, args: list[str], expected: bus.StatusValue) -> None:
    assert await leader.run("status-set", *args) == (0, "", "")
    assert leader.backend.unit_statuses == [expected]
    assert leader.ctx.unit_status == expected
    assert leader.ctx.status_set_called


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bogus"], 'invalid status "bogus", expected one of [maintenance blocked waiting active]'),
        (
            ["error", "x"],
            'invalid status "error", expected one of [maintenance blocked waiting active]',
        ),
        ([], "invalid args, require <status> [message]"),
        (["active", "msg", "extra"], 'unrecognized args: ["extra"]'),
        (
            ["--application=maybe", "active"],
            'invalid value "maybe" for option --application: '
            'strconv.ParseBool: parsing "maybe": invalid syntax',
        ),
        (["--bogus", "active"], "option provided but not defined: --bogus"),
        (["-x", "active"], "option provided but not defined: -x"),
    ],
)
async def test_status_set_usage_errors(leader: Harness, args: list[str], message: str) -> None:
    assert await leader.run("status-set", *args) == (2, "", f"ERROR {message}\n")
    assert leader.backend.unit_statuses == []


async def test_status_set_application_needs_leadership(follower: Harness) -> None:
    code, out, err = await follower.run("status-set", "--application=True", "active", "hi")
    assert (code, out, err) == (1, "", "ERROR this unit is not the leader\n")
    assert follower.backend.app_statuses == []


@pytest.mark.parametrize(
    "flag", ["--application", "--application=True", "--application=true", "--application=1"]
)
async def test_status_set_application_as_leader(leader: Harness, flag: str) -> None:
    assert await leader.run("status-set", flag, "active", "all units up") == (0, "", "")
    assert leader.backend.app_statuses == [bus.StatusValue(status="active", message="all units up")]
    assert leader.backend.unit_statuses == []


@pytest.mark.parametrize(
    ("args", "out"),
    [
        ([], "maintenance\n"),
        (["--format=json"], '"maintenance"\n'),
        (
            ["--include-data", "--format=json", "--application=false"],
            '{"message":"installing","status":"maintenance","status-data":{}}\n',
        ),
        (
            ["--include-data"],
            "message: installing\nstatus: maintenance\nstatus-data: {}\n",
        ),
        (
            ["--include-data", "--format", "yaml"],
            "message: installing\nstatus: maintenance\nstatus-data: {}\n",
        ),
    ],
)
async def test_status_get_unit(leader: Harness, args: list[str], out: str) -> None:
    assert await leader.run("status-get", *args) == (0, out, "")


async def test_status_get_sees_status_set_in_same_hook(leader: Harness) -> None:
    await leader.run("status-set", "active", "ready")
    assert await leader.run("status-get") == (0, "active\n", "")


async def test_status_get_application(leader: Harness) -> None:
    await leader.run("status-set", "--application", "blocked", "needs db")
    code, out, err = await leader.run(
        "status-get", "--include-data", "--format=json", "--application=true"
    )
    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "application-status": {
            "status": "blocked",
            "message": "needs db",
            "status-data": {},
            "units": {
                "app/0": {"status": "maintenance", "message": "installing", "status-data": {}}
            },
        }
    }


async def test_status_get_application_needs_leadership(follower: Harness) -> None:
    code, out, err = await follower.run("status-get", "--application", "--format=json")
    assert (code, out, err) == (1, "", "ERROR this unit is not the leader\n")


# --- is-leader -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("is_leader", "args", "out"),
    [
        (True, [], "True\n"),
        (True, ["--format=json"], "true\n"),
        (True, ["--format", "yaml"], "true\n"),
        (False, [], "False\n"),
        (False, ["--format=json"], "false\n"),
    ],
)
async def test_is_leader(tmp_path: Path, is_leader: bool, args: list[str], out: str) -> None:
    async for harness in make_harness(tmp_path, leader=is_leader):
        assert await harness.run("is-leader", *args) == (0, out, "")


async def test_is_leader_rejects_arguments(leader: Harness) -> None:
    assert await leader.run("is-leader", "extra") == (2, "", 'ERROR unrecognized args: ["extra"]\n')


async def test_unknown_format_is_usage_error(leader: Harness) -> None:
    code, out, err = await leader.run("is-leader", "--format=xml")
    assert (code, out) == (2, "")
    assert err == 'ERROR invalid value "xml" for option --format: unknown format "xml"\n'


async def test_output_file_relative_to_cwd(leader: Harness) -> None:
    assert await leader.run("is-leader", "--format=json", "-o", "out.json") == (0, "", "")
    assert (leader.charm_dir / "out.json").read_text() == "true\n"


# --- config-get ------------------------------------------------------------------------------


async def test_config_get_all_as_json_keeps_types(leader: Harness) -> None:
    code, out, err = await leader.run("config-get", "--format=json")
    assert (code, err) == (0, "")
    assert out == '{"debug":true,"motd":"","name":"demo","port":8080,"ratio":0.5}\n'


@pytest.mark.parametrize(
    ("args", "out"),
    [
        (["name"], "demo\n"),
        (["port"], "8080\n"),
        (["debug"], "True\n"),
        (["ratio"], "0.5\n"),
        (["motd"], ""),
        (["motd", "--format=json"], '""\n'),
        (["--format=json", "port"], "8080\n"),
        (["nope"], ""),
        (["nope", "--format=json"], "null\n"),
        ([], 'debug: true\nmotd: ""\nname: demo\nport: 8080\nratio: 0.5\n'),
    ],
)
async def test_config_get_key(leader: Harness, args: list[str], out: str) -> None:
    assert await leader.run("config-get", *args) == (0, out, "")


@pytest.mark.parametrize("flag", ["--all", "-a", "--all=true"])
async def test_config_get_all_includes_unset_options(leader: Harness, flag: str) -> None:
    code, out, _ = await leader.run("config-get", flag, "--format=json")
    assert code == 0
    assert json.loads(out) == {
        "name": "demo",
        "port": 8080,
        "ratio": 0.5,
        "debug": True,
        "motd": "",
        "unset": None,
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["a", "b"], 'unrecognized args: ["b"]'),
        (["--all", "name"], 'cannot use argument --all together with key "name"'),
        (["--format"], "option needs an argument: --format"),
    ],
)
async def test_config_get_usage_errors(leader: Harness, args: list[str], message: str) -> None:
    assert await leader.run("config-get", *args) == (2, "", f"ERROR {message}\n")


# --- application-version-set -----------------------------------------------------------------


async def test_application_version_set(leader: Harness) -> None:
    assert await leader.run("application-version-set", "--", "-1.2.3") == (0, "", "")
    assert await leader.run("application-version-set", "2.0") == (0, "", "")
    assert leader.backend.versions == ["-1.2.3", "2.0"]


@pytest.mark.parametrize(
    ("args", "message"),
    [([], "no version specified"), (["1", "2"], 'unrecognized args: ["2"]')],
)
async def test_application_version_set_usage(
    leader: Harness, args: list[str], message: str
) -> None:
    assert await leader.run("application-version-set", *args) == (2, "", f"ERROR {message}\n")
    assert leader.backend.versions == []


# --- the client itself -------------------------------------------------------------------------


def test_client_imports_only_builtin_modules() -> None:
    """Startup cost: no `socket.py` (enum, selectors), no json, no base64 (see `_hooktool`)."""
    tree = ast.parse(Path(_hooktool.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert imported == {"_socket", "posix", "sys"}


async def test_client_without_context_fails(each_client: Harness) -> None:
    process = await asyncio.create_subprocess_exec(
        str(each_client.tools / "is-leader"),
        env={"PATH": "/usr/bin:/bin"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(TIMEOUT):
        out, err = await process.communicate()
    assert (process.returncode, out) == (1, b"")
    assert err == b"ERROR JUJU_CONTEXT_ID and JUJU_AGENT_SOCKET_ADDRESS must be set\n"


async def test_client_when_the_agent_is_gone(each_client: Harness) -> None:
    await each_client.server.close()
    code, out, err = await each_client.run("is-leader")
    assert (code, out) == (1, "")
    assert err.startswith(f"ERROR cannot reach the unit agent at {each_client.socket}: ")


async def test_unknown_tool_name(each_client: Harness) -> None:
    (each_client.tools / "no-such-tool").symlink_to(_toolserver.CLIENT_NAME)
    assert await each_client.run("no-such-tool") == (
        1,
        "",
        "ERROR unknown command 'no-such-tool'\n",
    )


async def test_arguments_and_stdin_survive_the_wire_byte_for_byte(each_client: Harness) -> None:
    each_client.ctx.relations[1] = hooktools.RelationView(
        id=1, endpoint="db", remote_app="mysql", peer=False, members=()
    )
    weird = "tab\tnew\nline ünïcode \\ '\"$"
    blob = json.dumps({"k": weird, "big": "x" * 3_000_000}).encode()
    code, _, err = await each_client.run("relation-set", "-r", "1", "--file", "-", stdin=blob)
    assert (code, err) == (0, "")
    code, _, err = await each_client.run("relation-set", "-r", "1", f"arg={weird}", "empty=")
    assert (code, err) == (0, "")
    read = await each_client.json("relation-get", "-r", "1", "-", "app/0")  # a 3 MB reply
    assert (read["arg"], read["big"]) == (weird, "x" * 3_000_000)
    unit_writes, _ = each_client.ctx.relation_writes[1]
    assert unit_writes == {"k": weird, "big": "x" * 3_000_000, "arg": weird, "empty": ""}


async def test_juju_log_in_a_relation_hook_names_the_relation(tmp_path: Path) -> None:
    async for harness in make_harness(
        tmp_path,
        leader=False,
        hook="db-relation-changed",
        hook_relation=hooktools.HookRelation(
            relation_id=7, endpoint="db", remote_unit="mysql/0", remote_app="mysql"
        ),
    ):
        assert await harness.run("juju-log", "hello") == (0, "", "")
        assert "INFO unit.app/0.juju-log db:7: hello" in harness.log()
