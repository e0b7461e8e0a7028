"""Bootstrapping and killing a controller of a home (run for the CLI by `__main__`).

The controller runs as a background process in its own session; `bootstrap` returns once
its API answers. `kill` stops it and every agent it started, even if it is not answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import secrets
import shutil
import signal
import socket
import ssl
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import httpx
import yaml

from runecraft import errors
from runecraft.controller import _tls
from runecraft.controller._config import api_url, ca_cert_path, config_path, load_config
from runecraft.controller._daemon import spawn
from runecraft.controller.providers.local import agent_pids, remove_machines
from runecraft.schemas.controller import BrokerSettings, ControllerConfig

__all__ = ["bootstrap", "free_port", "kill", "parse_broker", "start", "stop"]

SUPPORTED_DATABASES = ("sqlite+aiosqlite://", "postgresql+asyncpg://")
BIND_ATTEMPTS = 3


def free_port(host: str = "127.0.0.1") -> int:
    """A port free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_broker(spec: str | None, host: str) -> BrokerSettings:
    """`embedded` (default), `mosquitto[:PORT]`, or `mqtt://[user:password@]host:port`."""
    if spec in (None, "", "embedded"):
        return BrokerSettings(kind="embedded", host=host, port=free_port(host))
    assert spec is not None
    if spec == "mosquitto" or spec.startswith("mosquitto:"):
        _, _, port = spec.partition(":")
        if port and not port.isdigit():
            raise errors.InvalidSpecError(f'invalid broker "{spec}": port must be a number')
        return BrokerSettings(
            kind="mosquitto", host=host, port=int(port) if port else free_port(host)
        )
    if spec.startswith("mqtt://"):
        url = httpx.URL(spec.replace("mqtt://", "http://", 1))
        if not url.host or url.port is None:
            raise errors.InvalidSpecError(
                f'invalid broker "{spec}": expected mqtt://[user:password@]host:port'
            )
        if not _is_loopback(url.host):
            raise errors.InvalidSpecError(
                f'external broker "{url.host}" is not on loopback: the bus to an external '
                "broker is plain MQTT (TLS to external brokers is not supported yet), and "
                "agents' credentials must not cross a network in clear; run the broker on "
                "this host, or bootstrap with --broker mosquitto"
            )
        return BrokerSettings(
            kind="external",
            host=url.host,
            port=url.port,
            username=url.username or "controller",
            password=url.password or "",
        )
    raise errors.InvalidSpecError(
        f'invalid broker "{spec}": use "embedded", "mosquitto[:PORT]" or mqtt://host:port'
    )


def _pid(controller_dir: Path) -> int | None:
    try:
        pid = int((controller_dir / "controller.pid").read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"runecraft.controller" in cmdline else None


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _verify(controller_dir: Path, config: ControllerConfig) -> ssl.SSLContext | bool:
    """How this host verifies the controller's API: against its own CA."""
    if not config.tls:
        return True
    return ssl.create_default_context(cafile=str(ca_cert_path(controller_dir)))


START_WAIT = 60.0
"""Seconds `start` waits for the controller's API, and then again for it to reach its
broker (which it restarts by itself if it died, with back-off up to 30 s)."""
BROKER_DOWN_GRACE = 15.0
"""Seconds `start` lets a broker the controller reports down stay down (its restarts
failing, retried 0.5, 1, 2, 4 and 8 s apart meanwhile) before it gives up and says why."""


def _health(url: str, verify: ssl.SSLContext | bool) -> dict[str, str]:
    """The controller's `/v1/health` answer ({} while it does not answer)."""
    with contextlib.suppress(httpx.HTTPError, OSError, ValueError):  # OSError: no CA made yet
        response = httpx.get(url, timeout=2, verify=verify)
        if response.status_code == 200:
            answer = response.json()
            if isinstance(answer, dict):
                return {str(k): str(v) for k, v in answer.items()}
    return {}


def _broker_note(health: dict[str, str]) -> str:
    """What a running controller that is not on its bus yet is waiting for."""
    broker = health.get("broker", "running")
    why = f" ({health['broker_message']})" if health.get("broker_message") else ""
    if broker == "restarting":
        return f"the controller is restarting its broker{why}"
    if broker == "down":
        return f"the controller's broker is down{why}; the controller keeps trying"
    return "waiting for the controller to reach its broker"


def start(home: Path, progress: Callable[[str], None] = lambda _: None) -> ControllerConfig:
    """Start the controller of `home` (if it is not running) and wait until it answers and
    is on its bus.

    A controller that starts adopts the managed mosquitto it finds running, or starts it
    again; one that runs restarts its broker by itself when it dies, and this waits for
    that, saying so (but not on a broker that stays down: that is an error naming why)."""
    controller_dir = home / "controller"
    config = load_config(controller_dir)
    if _pid(controller_dir) is None:
        process = spawn(
            [sys.executable, "-m", "runecraft.controller", "serve", "--home", str(home)],
            controller_dir / "controller.log",
        )
    else:
        process = None
    url = f"{api_url(config)}/v1/health"
    deadline = time.monotonic() + START_WAIT
    answered = False
    said = "waiting for the controller API"
    progress(said)
    down_since: float | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise errors.PermanentError(
                f"the controller exited with code {process.returncode}:\n"
                + _log_tail(controller_dir / "controller.log")
            )
        health = _health(url, _verify(controller_dir, config))
        if health.get("uuid") == config.uuid:
            if health.get("bus", "connected") == "connected":
                return config
            if not answered:  # the API is up: the broker gets its own wait
                answered, deadline = True, time.monotonic() + START_WAIT
            if health.get("broker") != "down":
                down_since = None
            elif down_since is None:
                down_since = time.monotonic()
            elif time.monotonic() - down_since > BROKER_DOWN_GRACE:
                raise errors.TemporaryError(
                    "the controller is running but its broker is down: "
                    f"{health.get('broker_message', 'no reason given')} (the controller "
                    f"keeps trying to start it; see {controller_dir / 'controller.log'})"
                )
            if (note := _broker_note(health)) != said:
                said = note
                progress(note)
        time.sleep(0.05)
    raise errors.TemporaryError(_start_timeout(config, controller_dir, answered))


def _start_timeout(config: ControllerConfig, controller_dir: Path, answered: bool) -> str:
    where = f"{config.broker.host}:{config.broker.port}"
    if answered:
        head = f"the controller is running but did not reach its broker at {where} within 60 s"
    else:
        head = f"the controller did not come up within 60 s (is its broker at {where} running?)"
    return head + ":\n" + _log_tail(controller_dir / "controller.log")


def bootstrap(
    home: Path,
    *,
    name: str,
    database: str | None,
    broker: str | None,
    api_port: int | None = None,
    host: str = "127.0.0.1",
    tls: bool = True,
    log_format: Literal["text", "json"] = "text",
    progress: Callable[[str], None] = lambda _: None,
) -> ControllerConfig:
    """Make and start a controller in `home`; on failure nothing is left behind. Without
    `tls` (plain TCP and http), only on loopback. `log_format`: how its log is written."""
    try:
        if ipaddress.ip_address(host).is_unspecified:
            raise ValueError(host)
    except ValueError:
        raise errors.InvalidSpecError(
            f'invalid listen address "{host}": give one IP address of this host that agents '
            "can reach (not a name, not 0.0.0.0)"
        ) from None
    if not tls and not ipaddress.ip_address(host).is_loopback:
        raise errors.InvalidSpecError(
            f"--no-tls is refused on {host}: without TLS, credentials would cross the "
            "network in clear; plain TCP is allowed only on a loopback listen address "
            "(127.0.0.1 or ::1)"
        )
    controller_dir = home / "controller"
    if config_path(controller_dir).exists():
        existing = load_config(controller_dir)
        raise errors.ConflictError(
            f'controller "{existing.name}" already exists in {home}; '
            f"remove it first with: rune kill-controller {existing.name} --no-prompt"
        )
    if database is not None and not database.startswith(SUPPORTED_DATABASES):
        raise errors.InvalidSpecError(
            f'unsupported database URL "{database}": use sqlite+aiosqlite:///PATH or '
            "postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DB"
        )
    broker_settings = parse_broker(broker, host)
    if broker_settings.kind == "external":
        progress("checking that the broker manages agents' credentials (dynamic security)")
        asyncio.run(_external_broker_ready(broker_settings))
    for attempt in range(1, BIND_ATTEMPTS + 1):
        config = _new_config(home, name, database, broker, api_port, host, tls)
        config.log_format = log_format
        controller_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if tls:
            hosts = [host] if config.broker.kind == "external" else [host, config.broker.host]
            _tls.make(_tls.TlsFiles.of(controller_dir), name, _tls.server_names(*hosts))
        path = config_path(controller_dir)
        path.write_text(_yaml(config))
        path.chmod(0o600)
        try:
            progress("starting the controller")
            start(home, progress)
        except BaseException as exc:
            stop(home, destroy=True)
            remove_machines(home / "machines")
            shutil.rmtree(controller_dir, ignore_errors=True)
            # A port picked free can be taken before the controller binds it (another
            # process asked the OS at the same moment): pick again rather than fail.
            lost_port = isinstance(exc, errors.RunecraftError) and (
                "address already in use" in exc.message.lower()
            )
            picked = api_port is None and broker in (None, "", "embedded", "mosquitto")
            if lost_port and picked and attempt < BIND_ATTEMPTS:
                progress("a port was taken meanwhile; choosing others")
                continue
            raise
        return config
    raise AssertionError("unreachable")


async def _external_broker_ready(settings: BrokerSettings) -> None:
    from runecraft.controller.bus import _dynsec  # noqa: PLC0415 (MQTT only for this)

    await _dynsec.probe(settings.host, settings.port, settings.username, settings.password)


def _new_config(
    home: Path,
    name: str,
    database: str | None,
    broker: str | None,
    api_port: int | None,
    host: str,
    tls: bool,
) -> ControllerConfig:
    broker_settings = parse_broker(broker, host)
    if broker_settings.kind != "external":
        broker_settings = broker_settings.model_copy(update={"password": secrets.token_urlsafe(24)})
    port = api_port or free_port(host)
    while api_port is None and port == broker_settings.port:
        port = free_port(host)
    return ControllerConfig(
        name=name,
        uuid=str(uuid.uuid4()),
        api_host=host,
        api_port=port,
        database_url=database or f"sqlite+aiosqlite:///{home / 'controller' / 'state.db'}",
        admin_token=secrets.token_urlsafe(32),
        broker=broker_settings,
        tls=tls,
    )


def _yaml(config: ControllerConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


DESTROY_GRACE = 300.0
"""How long a destroying shutdown may take to remove every machine (LXD, SSH) it made."""


def stop(home: Path, *, destroy: bool, grace: float = 30.0) -> None:
    """Stop the controller of `home`; with `destroy`, also every agent it started."""
    controller_dir = home / "controller"
    pid = _pid(controller_dir)
    if pid is not None and destroy and config_path(controller_dir).exists():
        config = load_config(controller_dir)
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(
                f"{api_url(config)}/v1/controller/shutdown",
                verify=_verify(controller_dir, config),
                params={"destroy": "true"},
                headers={"Authorization": f"Bearer {config.admin_token}"},
                timeout=httpx.Timeout(DESTROY_GRACE, connect=5.0),
            )
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        _wait_gone(pid, grace)
    if destroy:
        for agent in agent_pids(home / "machines"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(agent, signal.SIGKILL)
        mosquitto_pid = controller_dir / "mosquitto" / "mosquitto.pid"
        with contextlib.suppress(OSError, ValueError, ProcessLookupError):
            os.kill(int(mosquitto_pid.read_text().strip()), signal.SIGTERM)


def _wait_gone(pid: int, grace: float) -> None:
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return
        if stat.rsplit(")", 1)[-1].split()[0] in {"Z", "X"}:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def kill(home: Path, name: str) -> None:
    """Stop the controller named `name` and everything it started, and forget it."""
    controller_dir = home / "controller"
    if not config_path(controller_dir).exists():
        raise errors.NotFoundError(f'controller "{name}" not found in {home}')
    config = load_config(controller_dir)
    if config.name != name:
        raise errors.NotFoundError(
            f'controller "{name}" not found in {home} (the controller here is "{config.name}")'
        )
    stop(home, destroy=True)
    remove_machines(home / "machines")
    shutil.rmtree(home / "machines", ignore_errors=True)
    shutil.rmtree(controller_dir, ignore_errors=True)
