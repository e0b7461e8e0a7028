"""The manual substrate: machines the user already has, enlisted over SSH.

The controller never makes these machines; it installs its agent on them. What it must know
to reach one again (login, key, host-key fingerprint, install prefix) is kept in the
provider's own directory, one JSON file per machine, written at enlistment and removed with
the machine; known host keys go to a known_hosts file beside them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import asyncssh
import structlog

from runecraft import errors
from runecraft.controller.providers._base import InstanceInfo, MachineSpec, ProviderContext
from runecraft.controller.providers._wheelhouse import (
    Wheelhouse,
    agent_argv,
    build_wheelhouse,
    install_script,
)
from runecraft.controller.providers.ssh import _scripts
from runecraft.controller.providers.ssh._connect import (
    Connection,
    HostKeys,
    connect,
    run,
)
from runecraft.schemas.ssh_target import SshTarget

__all__ = ["DEFAULT_INSTALL_DIR", "Enlistment", "Probe", "SshProvider"]

logger = structlog.get_logger(__name__)

DEFAULT_INSTALL_DIR = "/var/lib/runecraft"
MIN_PYTHON = (3, 10)
RUNNING_CHECK_SECONDS = 30.0
"""A machine seen running is not asked again over SSH for this long."""


@dataclass(frozen=True)
class Enlistment:
    """How to reach an enlisted machine and where its agent lives."""

    user: str
    host: str
    port: int
    private_key: str | None
    install_dir: str
    prefix: str
    service: str
    fingerprint: str = ""

    @property
    def target(self) -> SshTarget:
        return SshTarget(user=self.user, host=self.host, port=self.port)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


@dataclass(frozen=True)
class Probe:
    """What a first connection learned."""

    fingerprint: str
    python: tuple[int, int]
    hostname: str


class SshProvider:
    """Installs, supervises and removes machine agents on enlisted hosts."""

    name = "manual"

    def __init__(self, context: ProviderContext) -> None:
        self.context = context
        self.root = context.data_dir / "enlisted"
        self.host_keys = HostKeys(
            store=self.root / "known_hosts",
            user_files=(Path.home() / ".ssh" / "known_hosts",),
        )
        self._locks: defaultdict[tuple[str, int], asyncio.Lock] = defaultdict(asyncio.Lock)
        self._seen_running: dict[tuple[str, int], float] = {}
        self._wheelhouse: Wheelhouse | None = None

    # --- bookkeeping ------------------------------------------------------------------

    def _record_path(self, model_uuid: str, number: int) -> Path:
        return self.root / model_uuid / f"{number}.json"

    def enlistment(self, model_uuid: str, number: int) -> Enlistment | None:
        try:
            data = json.loads(self._record_path(model_uuid, number).read_text())
        except (OSError, ValueError):
            return None
        return Enlistment(**data)

    def _save(self, model_uuid: str, number: int, enlistment: Enlistment) -> None:
        path = self._record_path(model_uuid, number)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(enlistment.to_json())
        tmp.chmod(0o600)
        tmp.replace(path)

    def forget(self, model_uuid: str, number: int) -> None:
        """Drop the bookkeeping of a machine (after removal, or when it is abandoned)."""
        self._record_path(model_uuid, number).unlink(missing_ok=True)
        self._seen_running.pop((model_uuid, number), None)
        with contextlib.suppress(OSError):
            self._record_path(model_uuid, number).parent.rmdir()

    async def wheelhouse(self) -> Wheelhouse:
        if self._wheelhouse is None:
            self._wheelhouse = await asyncio.to_thread(build_wheelhouse, self.root / "cache")
        return self._wheelhouse

    # --- enlistment -------------------------------------------------------------------

    async def probe(self, target: SshTarget, private_key: str | None, accept: str | None) -> Probe:
        """Connect (verifying the host key), log in and check python3; changes nothing
        on the machine."""
        house = await self.wheelhouse()
        async with connect(target, private_key=private_key, keys=self.host_keys, accept=accept) as (
            conn,
            key,
        ):
            python = await self._python(conn, target, house)
            result = await run(conn, target, "uname -n", doing="reading the host name")
            hostname = str(result.stdout or "").strip()
        return Probe(fingerprint=key, python=python, hostname=hostname)

    async def _python(
        self, conn: Connection, target: SshTarget, house: Wheelhouse
    ) -> tuple[int, int]:
        result = await run(conn, target, _scripts.PYTHON_CHECK, doing="checking python3")
        version = _scripts.parse_python_version(str(result.stdout or ""))
        want = ".".join(map(str, house.python))
        if version is None:
            raise errors.PermanentError(
                f"{target} has no python3: the Runecraft agent needs Python {want} there "
                "(install it, e.g. `apt install python3`, and run the command again)"
            )
        if version < MIN_PYTHON:
            raise errors.PermanentError(
                f"{target} has Python {version[0]}.{version[1]}: the Runecraft agent needs "
                f"Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer"
            )
        if version != house.python:
            raise errors.PermanentError(
                f"{target} has Python {version[0]}.{version[1]}: this controller's agent "
                f"wheels are built for Python {want}"
            )
        return version

    async def enlist(self, spec: MachineSpec, enlistment: Enlistment) -> InstanceInfo:
        """Record the machine and install and start its agent."""
        self._save(spec.model_uuid, spec.number, enlistment)
        return await self.ensure_machine(spec)

    # --- the provider protocol ----------------------------------------------------------

    async def ensure_machine(self, spec: MachineSpec) -> InstanceInfo:
        enlistment = self.enlistment(spec.model_uuid, spec.number)
        if enlistment is None:
            raise errors.PermanentError(
                f"machine {spec.number} is not enlisted: add it with `rune add-machine ssh:…`"
            )
        target = enlistment.target
        house = await self.wheelhouse()
        async with (
            self._locks[(spec.model_uuid, spec.number)],
            connect(target, private_key=enlistment.private_key, keys=self.host_keys) as (conn, _),
        ):
            await self._python(conn, target, house)
            await self._install(conn, enlistment, spec, house)
            result = await run(conn, target, "uname -n", doing="reading the host name")
            hostname = str(result.stdout or "").strip()
        self._seen_running[(spec.model_uuid, spec.number)] = time.monotonic()
        return InstanceInfo(instance_id=f"ssh:{target}", hostname=hostname, address=target.host)

    async def _install(
        self, conn: Connection, enlistment: Enlistment, spec: MachineSpec, house: Wheelhouse
    ) -> None:
        target, prefix = enlistment.target, enlistment.prefix
        wheels = f"{prefix}/wheels"
        config = spec.agent_config.model_copy(update={"data_dir": f"{prefix}/data"})
        quoted = shlex.quote(prefix)
        prepare = (
            f"set -eu\numask 077\nmkdir -p {quoted}/data\n"
            f"rm -rf {quoted}/wheels\nmkdir -p {quoted}/wheels\n"
        )
        await self._checked(conn, target, prepare, "preparing " + prefix)
        try:
            async with conn.start_sftp_client() as sftp:
                await sftp.put([str(w) for w in house.wheels], wheels)
                async with sftp.open(f"{prefix}/agent.json.tmp", "w") as handle:
                    await handle.write(config.model_dump_json(indent=2))
        except (OSError, asyncssh.Error) as exc:
            raise errors.TemporaryError(
                f"lost the connection to {target} while copying the agent: "
                f"{exc or type(exc).__name__}"
            ) from exc
        await self._checked(
            conn,
            target,
            f"set -eu\nchmod 600 {shlex.quote(prefix)}/agent.json.tmp\n"
            f"mv {shlex.quote(prefix)}/agent.json.tmp {shlex.quote(prefix)}/agent.json\n"
            + install_script(prefix, wheels, house.python),
            "installing the agent",
        )
        argv = agent_argv(prefix, f"{prefix}/agent.json")
        description = f"Runecraft machine agent {spec.agent_config.agent}"
        how = await self._checked(
            conn,
            target,
            _scripts.start_script(prefix, enlistment.service, argv, description),
            "starting the agent",
        )
        logger.info("machine agent started", machine=spec.number, host=str(target), how=how)

    async def _checked(self, conn: Connection, target: SshTarget, script: str, doing: str) -> str:
        result = await run(conn, target, script, doing=doing)
        if result.exit_status != 0:
            lines = str(result.stderr or result.stdout or "").strip().splitlines()
            detail = next(
                (ln for ln in lines if ln.startswith("ERROR ")), lines[-1] if lines else ""
            )
            detail = detail.removeprefix("ERROR ")
            raise errors.PermanentError(
                f"{doing} on {target} failed (exit {result.exit_status}): {detail}"
            )
        return str(result.stdout or "").strip()

    async def machine_running(self, model_uuid: str, number: int) -> bool:
        enlistment = self.enlistment(model_uuid, number)
        if enlistment is None:
            return False
        key = (model_uuid, number)
        seen = self._seen_running.get(key)
        if seen is not None and time.monotonic() - seen < RUNNING_CHECK_SECONDS:
            return True
        target = enlistment.target
        try:
            async with connect(target, private_key=enlistment.private_key, keys=self.host_keys) as (
                conn,
                _,
            ):
                result = await run(
                    conn,
                    target,
                    _scripts.running_script(enlistment.prefix, enlistment.service),
                    doing="checking the agent",
                    timeout=30.0,
                )
        except errors.RunecraftError as exc:
            logger.warning("enlisted machine unreachable", machine=number, error=exc.message)
            return False
        if result.exit_status == 0:
            self._seen_running[key] = time.monotonic()
            return True
        self._seen_running.pop(key, None)
        return False

    async def destroy_machine(self, model_uuid: str, number: int) -> None:
        enlistment = self.enlistment(model_uuid, number)
        if enlistment is None:
            return
        target = enlistment.target
        async with (
            self._locks[(model_uuid, number)],
            connect(target, private_key=enlistment.private_key, keys=self.host_keys) as (conn, _),
        ):
            await self._checked(
                conn,
                target,
                _scripts.remove_script(
                    enlistment.prefix, enlistment.service, enlistment.install_dir
                ),
                "removing the agent",
            )
        self.forget(model_uuid, number)
        logger.info("enlisted machine released", machine=number, host=str(target))

    async def close(self) -> None:
        self._seen_running.clear()
