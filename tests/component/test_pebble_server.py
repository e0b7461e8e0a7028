"""The transport of a real `rune-pebble run`: the socket, the envelope, errors, keep-alive,
the TCP listener, identities, the unit guard and the `notify` command, with ops' client."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import ops.pebble
import pytest

from runecraft.agents.pebble import _server
from tests.component._pebble import RUNE_PEBBLE, Agent, launch, running_agent, short_dir


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    with running_agent(tmp_path) as running:
        yield running


def raw_exchange(sock_path: Path, data: bytes) -> bytes:
    """Send raw bytes on one connection and read until the server closes it."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(sock_path))
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_system_info_and_a_fresh_boot_id_per_start(tmp_path: Path) -> None:
    boot_ids = []
    for _ in range(2):
        with running_agent(tmp_path) as agent:
            info = agent.client().get_system_info()
            assert info.version == "1.19.0-runecraft"
            boot_ids.append(agent.client()._request("GET", "/v1/system-info")["result"]["boot-id"])
            assert stat.S_IMODE(agent.socket.stat().st_mode) == 0o666
        assert not agent.socket.exists()
    assert boot_ids[0] != boot_ids[1]
    assert all(uuid.UUID(b) for b in boot_ids)


def test_errors_have_the_envelope_and_leave_state_intact(agent: Agent) -> None:
    client = agent.client()
    client.push("/state/kept", "kept", make_dirs=True)
    with pytest.raises(ops.pebble.APIError) as unknown:
        client._request("GET", "/v1/no-such-thing")
    assert (unknown.value.code, unknown.value.message) == (404, "invalid API endpoint requested")
    with pytest.raises(ops.pebble.APIError) as method:
        client._request("PUT", "/v1/files")
    assert (method.value.code, method.value.message) == (405, 'method "PUT" not allowed')
    with pytest.raises(ops.pebble.APIError) as malformed:
        client._request_raw(
            "POST",
            "/v1/identities",
            headers={"Content-Type": "application/json"},
            data=b'{"action": "add", "identities": {',
        )
    assert malformed.value.code == 400
    assert malformed.value.body["type"] == "error"
    assert malformed.value.message.startswith("cannot decode request body")
    with pytest.raises(ops.pebble.APIError) as warnings:
        client.get_warnings()
    assert warnings.value.code == 404  # gone since Pebble 1.16, as there
    garbage = raw_exchange(agent.socket, b"NOT HTTP AT ALL\r\n\r\n")
    assert garbage.startswith(b"HTTP/1.1 400 ")
    assert client.pull("/state/kept").read() == "kept"
    assert client.get_identities() == {}


def test_requests_no_handler_expects_still_get_a_reply(agent: Agent) -> None:
    """A NUL in a path or JSON nested past the parser's depth are answered with an error
    envelope, never a dropped connection; the daemon goes on serving."""
    client = agent.client()
    with pytest.raises(ops.pebble.APIError) as nul:
        client.list_files("/bad\x00path")
    assert nul.value.code in (400, 500) and nul.value.body["type"] == "error"
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(ops.pebble.APIError) as nested:
        client._request_raw(
            "POST", "/v1/layers", headers={"Content-Type": "application/json"}, data=deep
        )
    assert nested.value.code in (400, 500) and nested.value.body["type"] == "error"
    assert client.get_system_info().version == "1.19.0-runecraft"


def test_a_body_over_the_limit_is_refused_with_413(agent: Agent) -> None:
    size = _server.MAX_BODY + 1
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(str(agent.socket))
        head = f"POST /v1/files HTTP/1.1\r\nHost: localhost\r\nContent-Length: {size}\r\n\r\n"
        sock.sendall(head.encode())
        block, sent = bytes(1024 * 1024), 0
        with contextlib.suppress(ConnectionError):  # it may hang up once it has answered
            while sent < size:
                sent += sock.send(block[: size - sent])
        reply = b""
        with contextlib.suppress(ConnectionError):
            while chunk := sock.recv(65536):
                reply += chunk
    assert reply.startswith(b"HTTP/1.1 413 "), reply[:200]
    assert b"larger than 256 MiB" in reply
    assert agent.client().get_system_info().version == "1.19.0-runecraft"


def test_keep_alive_pipelining_and_connection_close(agent: Agent) -> None:
    request = b"GET /v1/system-info HTTP/1.1\r\nHost: localhost\r\n\r\n"
    closing = b"GET /v1/system-info HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    head = b"HEAD /v1/system-info HTTP/1.1\r\nHost: localhost\r\n\r\n"
    replies = raw_exchange(agent.socket, request + head + request + closing)
    assert replies.startswith(b"HTTP/1.1 200 OK\r\n")
    assert replies.count(b"HTTP/1.1 200 OK\r\n") == 3
    assert replies.count(b"HTTP/1.1 405 Method Not Allowed\r\n") == 1  # headers, no body
    assert replies.count(b'"status-code"') == 3

    connection = http.client.HTTPConnection("localhost")
    connection.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.sock.connect(str(agent.socket))
    try:
        for _ in range(3):  # one connection, several requests (the Go client's way)
            connection.request("GET", "/v1/system-info")
            reply = connection.getresponse()
            assert json.loads(reply.read())["status-code"] == 200
    finally:
        connection.close()


def test_identities_are_kept_and_shown_masked(agent: Agent) -> None:
    client = agent.client()
    client.replace_identities(
        {
            "alice": ops.pebble.Identity(access="admin", local=ops.pebble.LocalIdentity(user_id=0)),
            "bob": ops.pebble.Identity(
                access="read", basic=ops.pebble.BasicIdentity(password="$6$hash")
            ),
        }
    )
    shown = client._request("GET", "/v1/identities")["result"]
    assert shown == {
        "alice": {"access": "admin", "local": {"user-id": 0}},
        "bob": {"access": "read", "basic": {"password": "*****"}},
    }
    with pytest.raises(ops.pebble.APIError, match="cannot have multiple identities with user ID 0"):
        client.replace_identities(
            {"carol": ops.pebble.Identity(access="read", local=ops.pebble.LocalIdentity(user_id=0))}
        )
    with pytest.raises(ops.pebble.APIError, match="identities do not exist: zed"):
        client.remove_identities(["zed"])
    client.remove_identities(["alice"])
    assert sorted(client.get_identities()) == ["bob"]


def test_identities_from_a_file_at_start(tmp_path: Path) -> None:
    identities = tmp_path / "identities.yaml"
    identities.write_text(
        "identities:\n  charm:\n    access: admin\n    local:\n      user-id: 170\n"
    )
    with running_agent(tmp_path, ["--identities", str(identities)]) as agent:
        [(name, identity)] = agent.client().get_identities().items()
        assert (name, identity.access, identity.local) == (
            "charm",
            ops.pebble.IdentityAccess.ADMIN,
            ops.pebble.LocalIdentity(user_id=170),
        )


def test_the_http_listener_serves_open_endpoints_only(tmp_path: Path) -> None:
    with running_agent(tmp_path, ["--http", "127.0.0.1:0"]) as agent:
        info = agent.client()._request("GET", "/v1/system-info")["result"]
        host, port = info["http-address"].rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            connection.request("GET", "/v1/system-info")
            reply = connection.getresponse()
            assert reply.status == 200
            assert json.loads(reply.read())["result"]["boot-id"] == info["boot-id"]
            connection.request("GET", "/v1/files?action=list&path=/")
            denied = connection.getresponse()
            assert denied.status == 401
            assert json.loads(denied.read())["result"]["kind"] == "login-required"
        finally:
            connection.close()


def test_a_stale_socket_is_replaced_and_a_live_one_refused(tmp_path: Path) -> None:
    base = short_dir()
    try:
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(str(base / "pebble.socket"))
        stale.close()  # the file stays, nobody listens: a crashed daemon's leftover
        first = launch(base / "pebble", base / "pebble.socket", tmp_path)
        try:
            first.wait_for_log("Started daemon")
            second = launch(base / "pebble2", base / "pebble.socket", tmp_path)
            assert second.process.wait(timeout=30) == 1
            assert "already in use" in "".join(second.log)
            assert first.client().get_system_info().version
        finally:
            assert first.stop() == 0
    finally:
        shutil.rmtree(base, ignore_errors=True)


CALLER = """
import sys, ops.pebble
try:
    ops.pebble.Client(socket_path=sys.argv[1]).get_system_info()
    print("allowed")
except ops.pebble.APIError as exc:
    print(exc.code, exc.body["result"].get("kind"), exc.message)
"""


def call_as(agent: Agent, unit: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "JUJU_UNIT_NAME"}
    if unit is not None:
        env["JUJU_UNIT_NAME"] = unit
    result = subprocess.run(
        [sys.executable, "-c", CALLER, str(agent.socket)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout.strip()


def test_a_caller_acting_for_another_unit_is_refused(tmp_path: Path) -> None:
    with running_agent(tmp_path, ["--unit", "app/0"]) as agent:
        assert call_as(agent, "other/1") == (
            '403 permission-denied access denied: unit "other/1" cannot use the workloads '
            'of unit "app/0"'
        )
        assert call_as(agent, "app/0") == "allowed"
        assert call_as(agent, None) == "allowed"


def test_without_a_unit_every_local_caller_is_served(agent: Agent) -> None:
    assert call_as(agent, "other/1") == "allowed"


def test_an_invalid_base_layer_stops_the_start(tmp_path: Path) -> None:
    base = short_dir()
    try:
        (base / "pebble" / "layers").mkdir(parents=True)
        (base / "pebble" / "layers" / "001-bad.yaml").write_text("services: {svc: {}}\n")
        agent = launch(base / "pebble", base / "pebble.socket", tmp_path)
        assert agent.process.wait(timeout=30) == 1
        agent.wait_for_log("cannot run daemon:")
        assert not agent.socket.exists()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_notify_usage_and_failures(agent: Agent) -> None:
    def notify(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(RUNE_PEBBLE), "notify", *args],
            check=False,
            env=agent.env(),
            capture_output=True,
            text=True,
            timeout=30,
        )

    recorded = notify("example.com/cli", "a=1", "b=x=y", "--repeat-after", "1h")
    assert recorded.returncode == 0, recorded.stderr
    assert recorded.stdout.startswith("Recorded notice ")
    notice = agent.client().get_notice(recorded.stdout.split()[-1])
    assert (notice.key, notice.last_data, notice.user_id) == (
        "example.com/cli",
        {"a": "1", "b": "x=y"},
        os.getuid(),
    )
    invalid = notify("Not A Key")
    assert invalid.returncode == 1 and invalid.stderr.startswith("error: ")
    assert "key" in invalid.stderr
    usage = notify("example.com/key", "no-equals-sign")
    assert usage.returncode == 2
    assert 'data args must be in "name=value" format, not "no-equals-sign"' in usage.stderr
    assert notify().returncode == 2
    bad_duration = notify("example.com/key", "--repeat-after", "soon")
    assert bad_duration.returncode == 2 and "--repeat-after" in bad_duration.stderr
    unreachable = subprocess.run(
        [str(RUNE_PEBBLE), "notify", "example.com/key"],
        check=False,
        env={**agent.env(), "PEBBLE_SOCKET": str(agent.pebble_dir / "nothing-here")},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert unreachable.returncode == 1
    assert unreachable.stderr.startswith("error: cannot communicate with server")
