"""Both brokers for real, on a port the test chose: the controller's embedded amqtt and a
managed mosquitto, each with Runecraft's credentials and topic ACL. A test may stop one and
start it again on the same port, as a broker restart."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import subprocess
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from runecraft.controller import _passwords, _tls, bus

KINDS = ["embedded", "mosquitto"]

AGENT = "machine-0.model"
AGENT_PASSWORD = "agent-secret"
OTHER = "machine-1.model"
OTHER_PASSWORD = "other-secret"
CONTROLLER_PASSWORD = "controller-secret"


def hashes() -> Mapping[str, str]:
    """The stored credentials of the controller and of two agents, `AGENT` and `OTHER`."""
    return {
        bus.CONTROLLER_USER: _passwords.hash_password(CONTROLLER_PASSWORD),
        AGENT: _passwords.hash_password(AGENT_PASSWORD),
        OTHER: _passwords.hash_password(OTHER_PASSWORD),
    }


@asynccontextmanager
async def running(
    kind: str, port: int, directory: Path, tls: _tls.TlsFiles | None = None
) -> AsyncIterator[None]:
    """Run a broker of `kind` on 127.0.0.1:`port` until the block ends (TLS with `tls`)."""
    stored = hashes()
    if kind == "embedded":

        async def verify(user: str, password: str) -> bool:
            return _passwords.verify_password(password, stored.get(user))

        files = None if tls is None else (tls.cert, tls.key)
        embedded = bus.EmbeddedBroker("127.0.0.1", port, verify, files)
        await embedded.start()
        try:
            yield
        finally:
            await embedded.stop()
    else:
        mosquitto = bus.ManagedMosquitto(directory / "mosquitto", "127.0.0.1", port, tls)
        await mosquitto.start(stored.items())
        try:
            yield
        finally:
            await mosquitto.stop()


def _dynsec_client(username: str, password: str, role: str) -> dict[str, Any]:
    """A dynamic-security client entry, hashed as the plugin does (PBKDF2-SHA512)."""
    salt = secrets.token_bytes(12)
    hashed = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 101, 64)
    return {
        "username": username,
        "password": base64.b64encode(hashed).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": 101,
        "roles": [{"rolename": role}],
    }


@asynccontextmanager
async def dynsec_mosquitto(port: int, directory: Path) -> AsyncIterator[None]:
    """A user's own mosquitto on 127.0.0.1:`port` with the dynamic-security plugin, whose
    one client, `controller`, has the plugin's admin role (as its docs set it up)."""
    directory.mkdir(parents=True, exist_ok=True)
    admin_acls = [
        {"acltype": kind, "topic": "$CONTROL/dynamic-security/#", "allow": True}
        for kind in ("publishClientSend", "publishClientReceive", "subscribePattern")
    ]
    state = {
        "clients": [_dynsec_client(bus.CONTROLLER_USER, CONTROLLER_PASSWORD, "admin")],
        "roles": [{"rolename": "admin", "acls": admin_acls}],
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": True,
            "subscribe": False,
            "unsubscribe": True,
        },
    }
    (directory / "dynsec.json").write_text(json.dumps(state))
    (directory / "mosquitto.conf").write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous false\npersistence false\nuser root\n"
        f"plugin {DYNSEC_PLUGIN}\nplugin_opt_config_file {directory / 'dynsec.json'}\n"
    )
    log = (directory / "mosquitto.log").open("wb")
    process = subprocess.Popen(
        ["mosquitto", "-c", str(directory / "mosquitto.conf")], stdout=log, stderr=log
    )
    try:
        async with asyncio.timeout(10):
            while True:  # ready once it accepts connections
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                except OSError:
                    assert process.poll() is None, (directory / "mosquitto.log").read_text()
                    await asyncio.sleep(0.02)
                    continue
                writer.close()
                break
        yield
    finally:
        process.terminate()
        process.wait()
        log.close()


DYNSEC_PLUGIN = next(Path("/usr/lib").glob("*/mosquitto_dynamic_security.so"), None)
"""Debian's mosquitto ships the plugin."""
