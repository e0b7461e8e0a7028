"""Exec on a real `rune-pebble run` through ops' client and its websockets: stdin and
output (split and combined), exit codes, timeouts, environment, working directory,
users, signals, and the errors ops documents."""

from __future__ import annotations

import base64
import io
import os
import pwd
import socket
from collections.abc import Iterator
from pathlib import Path

import ops.pebble
import pytest

from tests.component._pebble import Agent, gone, running_agent, wait_until


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    with running_agent(tmp_path) as running:
        yield running


def test_stdin_stdout_and_stderr(agent: Agent) -> None:
    client = agent.client()
    assert client.exec(["cat"], stdin="hello\nworld").wait_output() == ("hello\nworld", "")
    script = "echo out; echo err >&2"
    assert client.exec(["sh", "-c", script]).wait_output() == ("out\n", "err\n")
    out, err = client.exec(["sh", "-c", script], combine_stderr=True).wait_output()
    assert sorted(out.splitlines()) == ["err", "out"] and err is None
    payload = os.urandom(3 * 1024 * 1024)
    process = client.exec(["cat"], stdin=payload, encoding=None)
    assert process.wait_output() == (payload, b"")


def test_a_non_zero_exit_is_the_callers_business(agent: Agent) -> None:
    client = agent.client()
    with pytest.raises(ops.pebble.ExecError) as failed:
        client.exec(["sh", "-c", "echo partial; echo oops >&2; exit 3"]).wait_output()
    assert (failed.value.exit_code, failed.value.stdout, failed.value.stderr) == (
        3,
        "partial\n",
        "oops\n",
    )
    change = client.get_changes(select=ops.pebble.ChangeState.ALL)[-1]
    assert change.kind == "exec" and change.status == "Done" and not change.err
    assert change.summary == 'Execute command "sh"'
    assert change.tasks[0].data["exit-code"] == 3


def test_a_timeout_fails_the_change(agent: Agent) -> None:
    client = agent.client()
    with pytest.raises(ops.pebble.ChangeError) as timed_out:
        client.exec(["sleep", "30"], timeout=0.25).wait()
    assert "timed out after 250ms: context deadline exceeded" in timed_out.value.err
    assert timed_out.value.change.tasks[0].data["exit-code"] == -1


def test_a_timeout_kills_the_whole_process_group(agent: Agent, tmp_path: Path) -> None:
    """A background child of the command is killed with it (as Pebble kills the group)."""
    pid_file = tmp_path / "pid"
    client = agent.client()
    script = f"sleep 600 & echo $! > {pid_file}.new; mv {pid_file}.new {pid_file}; wait"
    process = client.exec(["sh", "-c", script], timeout=3)
    wait_until(pid_file.exists, "the command never started its child")
    sleeper = int(pid_file.read_text())
    with pytest.raises(ops.pebble.ChangeError) as timed_out:
        process.wait()
    assert "timed out after 3s" in timed_out.value.err
    wait_until(lambda: gone(sleeper), f"sleep {sleeper} outlived its command")


def test_environment_and_working_directory(agent: Agent, tmp_path: Path) -> None:
    client = agent.client()
    work = tmp_path / "work"
    work.mkdir()
    out, _ = client.exec(
        ["sh", "-c", 'echo "$FOO|$LANG|$PEBBLE_SOCKET"; pwd; command -v pebble'],
        environment={"FOO": "bar"},
        working_dir=work,
    ).wait_output()
    lines = out.splitlines()
    assert lines[0] == f"bar|C.UTF-8|{agent.socket}"
    assert lines[1] == str(work)
    assert lines[2] == str(agent.pebble_dir / "bin" / "pebble")
    home = pwd.getpwuid(os.getuid()).pw_dir
    default, _ = client.exec(["pwd"], environment={"HOME": str(work)}).wait_output()
    assert default.strip() == str(work)
    assert os.path.isdir(home)


def test_refusals_ops_documents(agent: Agent, tmp_path: Path) -> None:
    client = agent.client()
    with pytest.raises(ops.pebble.APIError) as missing:
        client.exec(["no-such-command-here"])
    assert (missing.value.code, missing.value.message) == (
        400,
        'cannot find executable "no-such-command-here"',
    )
    with pytest.raises(ops.pebble.APIError) as no_dir:
        client.exec(["true"], working_dir=tmp_path / "nope")
    assert no_dir.value.code == 500
    assert no_dir.value.message == (
        f'cannot call exec: working directory "{tmp_path / "nope"}" does not exist'
    )
    with pytest.raises(ops.pebble.APIError, match='context service "ghost" not found'):
        client.exec(["true"], service_context="ghost")
    with pytest.raises(ops.pebble.APIError, match="must specify user, not just group"):
        client.exec(["true"], group="root")


def test_send_signal_to_the_process(agent: Agent) -> None:
    client = agent.client()
    script = "trap 'echo caught; exit 7' TERM; echo ready; while :; do sleep 0.05; done"
    process = client.exec(["sh", "-c", script])
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    process.send_signal("SIGTERM")
    with pytest.raises(ops.pebble.ExecError) as stopped:
        process.wait_output()
    assert stopped.value.exit_code == 7
    assert stopped.value.stdout == "caught\n"
    killed = client.exec(["sleep", "30"])
    killed.send_signal(9)
    with pytest.raises(ops.pebble.ExecError) as signalled:
        killed.wait()
    assert signalled.value.exit_code == 128 + 9


def test_exec_as_the_current_user_by_name(agent: Agent) -> None:
    me = pwd.getpwuid(os.getuid())
    out, _ = agent.client().exec(["id", "-u"], user=me.pw_name).wait_output()
    assert out.strip() == str(me.pw_uid)


@pytest.mark.skipif(os.getuid() != 0, reason="switching user needs root")
def test_exec_as_another_user(agent: Agent) -> None:
    nobody = pwd.getpwnam("nobody")
    client = agent.client()
    command = ["sh", "-c", "id -u; echo $USER $HOME"]
    out, _ = client.exec(command, user="nobody", working_dir="/").wait_output()
    assert out.split() == [str(nobody.pw_uid), "nobody", nobody.pw_dir]
    if not os.path.isdir(nobody.pw_dir):  # Pebble checks the home it would start in
        with pytest.raises(ops.pebble.APIError, match=r"home directory .* does not exist"):
            client.exec(command, user="nobody")


def test_websockets_never_connected_fail_the_change(agent: Agent) -> None:
    client = agent.client()
    reply = client._request("POST", "/v1/exec", body={"command": ["true"], "split-stderr": True})
    change = client.wait_change(reply["change"], timeout=30)
    assert change.status == "Error"
    assert "timeout waiting for websocket connections" in (change.err or "")


def upgrade(agent: Agent, path: str) -> bytes:
    """The status line of a websocket upgrade request."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(agent.socket))
        sock.sendall(request.encode())
        reader = io.BufferedReader(socket.SocketIO(sock, "rb"))
        return reader.readline()


def test_websocket_refusals(agent: Agent) -> None:
    client = agent.client()
    assert upgrade(agent, "/v1/tasks/999/websocket/control").startswith(b"HTTP/1.1 404")
    reply = client._request("POST", "/v1/exec", body={"command": ["cat"]})
    task = reply["result"]["task-id"]
    assert upgrade(agent, f"/v1/tasks/{task}/websocket/stderr").startswith(b"HTTP/1.1 404")
    assert upgrade(agent, f"/v1/tasks/{task}/websocket/control").startswith(b"HTTP/1.1 101")
    assert upgrade(agent, f"/v1/tasks/{task}/websocket/control").startswith(b"HTTP/1.1 500")
