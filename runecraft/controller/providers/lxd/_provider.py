"""The LXD substrate: each machine is a system container running the machine agent under
systemd, reaching the controller and broker over the LXD bridge.

Containers carry `user.runecraft.*` config keys naming their controller, model and machine;
only a container whose keys match is ever touched or deleted, so Runecraft never removes
what it did not make. Containers have no package index: the agent is installed from the
controller's own wheelhouse, pushed through LXD's file API.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import structlog

from runecraft import errors
from runecraft.controller.providers import _wheelhouse
from runecraft.controller.providers._base import InstanceInfo, MachineSpec, ProviderContext
from runecraft.controller.providers.lxd._api import LxdApi
from runecraft.controller.providers.lxd._image import image_alias
from runecraft.controller.providers.lxd._limits import container_limits
from runecraft.schemas.agent import AgentConfig
from runecraft.settings import HomeSettings, LxdSettings

__all__ = [
    "AGENT_UNIT",
    "TAG_CONTROLLER",
    "TAG_MACHINE",
    "TAG_MODEL",
    "LxdProvider",
    "agent_unit",
    "check_reachable",
    "container_name",
]

logger = structlog.get_logger(__name__)

TAG_CONTROLLER = "user.runecraft.controller"
TAG_MODEL = "user.runecraft.model"
TAG_MACHINE = "user.runecraft.machine"
PREFIX = "/opt/runecraft"
WHEEL_DIR = f"{PREFIX}/wheels"
STAMP = f"{PREFIX}/wheelhouse"
"""Holds the name of the installed wheelhouse, so a re-provision skips an identical install."""
CONFIG_PATH = "/var/lib/runecraft/agent.json"
DATA_DIR = "/var/lib/runecraft/machine"
AGENT_UNIT = "runecraft-machine.service"
ADDRESS_TIMEOUT = 60.0
RUNECRAFT_POOL = "runecraft"
STATE_TTL = 5.0
"""Seconds a listing of the containers answers `machine_running` (how soon a container
deleted behind Runecraft's back is noticed, at the latest)."""


def container_name(model_uuid: str, number: int) -> str:
    """A valid LXD name, unique per model and machine (64 bits of the model uuid)."""
    return f"rc-{model_uuid.replace('-', '')[:16]}-{number}"


def agent_unit(argv: list[str]) -> str:
    """The systemd unit that keeps the machine agent running in the container."""
    return (
        "[Unit]\n"
        "Description=Runecraft machine agent\n"
        "After=network-online.target\n"
        "Wants=network-online.target\n"
        "\n"
        "[Service]\n"
        f"ExecStart={shlex.join(argv)}\n"
        "Restart=always\n"
        "RestartSec=2\n"
        "KillMode=mixed\n"
        "\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n"
    )


def check_reachable(config: AgentConfig, bridge: str, network: str) -> None:
    """Refuse a controller address a container cannot dial (loopback, unspecified)."""
    check_addresses(config.broker.host, config.api_url, bridge, network)


def check_addresses(broker_host: str, api_url: str, bridge: str, network: str) -> None:
    """`check_reachable` on the controller's broker host and API URL."""
    for what, host in (
        ("broker", broker_host),
        ("API", urlsplit(api_url).hostname or ""),
    ):
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            bad = host in {"", "localhost"}
        else:
            bad = address.is_loopback or address.is_unspecified
        if bad:
            raise errors.PermanentError(
                f"the controller's {what} listens on {host or '(nothing)'}, which LXD containers "
                f"cannot reach: bootstrap with --listen-address {bridge} (the address of LXD "
                f'network "{network}")'
            )


class LxdProvider:
    """Machines as LXD containers on one LXD daemon."""

    name = "lxd"

    def __init__(self, context: ProviderContext, settings: LxdSettings | None = None) -> None:
        self.context = context
        self.settings = settings or LxdSettings()
        self.api = LxdApi.from_settings(self.settings)
        self.cache_dir = HomeSettings().cache_dir or context.data_dir.parent / "cache"
        self._bridge: str | None = None
        self._pool: str | None = None
        self._wheels: _wheelhouse.Wheelhouse | None = None
        self._wheels_lock = asyncio.Lock()
        self._made: set[str] = set()
        """Containers this process provisioned (to tell "gone" from "not made yet")."""
        self._listing: dict[str, tuple[str, dict[str, str]]] | None = None
        self._listed_at = 0.0
        self._changes = 0
        self._refreshing: asyncio.Task[None] | None = None

    def tags(self, model_uuid: str, number: int) -> dict[str, str]:
        return {
            TAG_CONTROLLER: self.context.controller_uuid,
            TAG_MODEL: model_uuid,
            TAG_MACHINE: str(number),
        }

    def _ours(self, config: dict[str, str], model_uuid: str, number: int) -> bool:
        return all(config.get(k) == v for k, v in self.tags(model_uuid, number).items())

    async def bridge_address(self) -> str:
        """The bridge's IPv4 address: the containers' nameserver and route to the controller."""
        if self._bridge is None:
            self._bridge = await self.api.network_address(self.settings.network)
        return self._bridge

    async def storage_pool(self) -> str | None:
        """The configured pool, else Runecraft's own (a fast snapshotting one made by
        scripts/lxd-setup.sh) when it exists, else the default profile's."""
        if self._pool is None:
            if self.settings.storage_pool is not None:
                self._pool = self.settings.storage_pool
            elif await self.api.has_pool(RUNECRAFT_POOL):
                self._pool = RUNECRAFT_POOL
            else:
                self._pool = await self.api.default_pool() or ""
        return self._pool or None

    async def image(self) -> str:
        """The image alias machines launch from (the user's, or the built one)."""
        return self.settings.image or image_alias(await self.bridge_address())

    def _missing_image(self, alias: str) -> errors.PermanentError:
        hint = (
            "check RUNECRAFT_LXD_IMAGE"
            if self.settings.image
            else "build it with `rune lxd build-image`"
        )
        return errors.PermanentError(f'LXD image "{alias}" is missing: {hint}')

    async def check_ready(self, broker_host: str, api_url: str) -> None:
        """LXD answers, has the bridge and the image, and containers can reach the
        controller there: checked before a unit is placed on a container (`--to lxd`), so
        a placement that cannot work is refused up front."""
        check_addresses(broker_host, api_url, await self.bridge_address(), self.settings.network)
        alias = await self.image()
        if not await self.api.has_image(alias):
            raise self._missing_image(alias)

    async def agent_wheels(self) -> _wheelhouse.Wheelhouse:
        """The controller's agent wheelhouse (built on first use, then reused)."""
        async with self._wheels_lock:
            if self._wheels is None:
                self._wheels = await asyncio.to_thread(_wheelhouse.build_wheelhouse, self.cache_dir)
            return self._wheels

    async def ensure_machine(self, spec: MachineSpec) -> InstanceInfo:
        limits = container_limits(spec.constraints)
        name = container_name(spec.model_uuid, spec.number)
        bridge = await self.bridge_address()
        check_reachable(spec.agent_config, bridge, self.settings.network)
        existing = await self.api.instance_config(name)
        if existing is not None and not self._ours(existing, spec.model_uuid, spec.number):
            raise errors.PermanentError(
                f'LXD container "{name}" exists but was not made by this controller for '
                f"machine {spec.number}: it is left alone; remove it or use another LXD"
            )
        alias = await self.image()
        if existing is None and not await self.api.has_image(alias):
            raise self._missing_image(alias)
        wheels = await self.agent_wheels()
        root: dict[str, str] = {}
        pool = await self.storage_pool()
        if pool is None and limits.root_size is not None:
            raise errors.PermanentError(
                "LXD's default profile has no root disk: set RUNECRAFT_LXD_STORAGE_POOL"
            )
        if pool is not None:
            root["pool"] = pool
        if limits.root_size is not None:
            root["size"] = limits.root_size
        config = {**limits.config, **self.tags(spec.model_uuid, spec.number)}
        clock = asyncio.get_running_loop().time
        started = clock()
        profiles = self.settings.profiles
        step = "create"
        try:
            await self.api.create(
                name, alias, config, self.settings.network, root or None, profiles
            )
            step = "start"
            await self.api.start(name)
            step = "agent"
            launched = clock()
            address = await self.wait_address(name)
            addressed = clock()
            await self._install_agent(name, spec.agent_config, wheels)
        except errors.RunecraftError as exc:
            gone = ""
            if existing is None:
                try:
                    await self.api.delete(name)
                except errors.RunecraftError as cleanup:
                    gone = f"; deleting it failed too: {cleanup.message}"
                else:
                    if step != "create":
                        gone = "; it was deleted and is made again on the next attempt"
            if isinstance(exc, errors.TemporaryError):
                raise
            hint = ""
            if step in {"create", "start"}:
                hint = f" (its LXD profiles: {', '.join(profiles)}; see RUNECRAFT_LXD_PROFILES)"
            raise errors.PermanentError(
                f'LXD container "{name}": {exc.message}{hint}{gone}'
            ) from exc
        self._made.add(name)
        self._changes += 1
        if self._listing is not None:
            self._listing[name] = ("Running", config)
        logger.info(
            "container ready",
            container=name,
            machine=spec.number,
            address=address,
            launch_s=round(launched - started, 2),
            address_s=round(addressed - launched, 2),
            agent_s=round(clock() - addressed, 2),
        )
        return InstanceInfo(instance_id=name, hostname=name, address=address)

    async def wait_address(self, name: str) -> str:
        """The container's first IPv4 address (DHCP from the bridge)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ADDRESS_TIMEOUT
        while True:
            address = await self.api.ipv4(name)
            if address is not None:
                return address
            if loop.time() > deadline:
                raise errors.PermanentError(
                    f"got no IPv4 address on {self.settings.network} within "
                    f"{ADDRESS_TIMEOUT:.0f} s (is the bridge's DHCP running?)"
                )
            await asyncio.sleep(0.25)

    async def _run(self, name: str, script: str, what: str) -> str:
        result = await self.api.execute(name, ["sh", "-c", script])
        if result.exit_code != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-10:])
            raise errors.PermanentError(f"{what} failed (exit {result.exit_code}): {tail}")
        return result.stdout

    async def _install_agent(
        self, name: str, config: AgentConfig, wheels: _wheelhouse.Wheelhouse
    ) -> None:
        stamp = wheels.directory.name
        installed = await self._run(name, f"cat {STAMP} 2>/dev/null || true", "reading the stamp")
        if installed.strip() != stamp:
            await self._run(
                name, f"rm -rf {WHEEL_DIR} && mkdir -p {WHEEL_DIR}", "making the wheel directory"
            )
            for wheel in wheels.wheels:
                data = await asyncio.to_thread(wheel.read_bytes)
                await self.api.push(name, f"{WHEEL_DIR}/{wheel.name}", data, mode=0o644)
            script = _wheelhouse.install_script(PREFIX, WHEEL_DIR, wheels.python)
            await self._run(name, script, "installing the machine agent")
            await self.api.push(name, STAMP, f"{stamp}\n".encode(), mode=0o644)
        agent_config = config.model_copy(update={"data_dir": DATA_DIR})
        await self._run(
            name, f"mkdir -p -m 0700 {Path(CONFIG_PATH).parent} {DATA_DIR}", "making directories"
        )
        await self.api.push(name, CONFIG_PATH, agent_config.model_dump_json(indent=2).encode())
        unit = agent_unit(_wheelhouse.agent_argv(PREFIX, CONFIG_PATH))
        await self.api.push(name, f"/etc/systemd/system/{AGENT_UNIT}", unit.encode(), mode=0o644)
        await self._run(
            name,
            f"systemctl daemon-reload && systemctl enable -q {AGENT_UNIT} && "
            f"systemctl restart {AGENT_UNIT}",
            "starting the machine agent",
        )

    async def _refresh(self) -> dict[str, tuple[str, dict[str, str]]]:
        changes = self._changes
        listing = await self.api.tagged_states(TAG_CONTROLLER, self.context.controller_uuid)
        if changes == self._changes:  # else a container came or went meanwhile: list again
            self._listing = listing
            self._listed_at = asyncio.get_running_loop().time()
        return listing

    async def _refresh_quietly(self) -> None:
        try:
            await self._refresh()
        except errors.RunecraftError as exc:
            self._listing = None  # the next question waits for LXD and reports it
            logger.warning("cannot list the containers", error=exc.message)

    async def _states(self) -> dict[str, tuple[str, dict[str, str]]]:
        """The listing, refreshed in the background once stale, so a reconcile pass never
        waits for LXD (only the very first one does)."""
        if self._listing is None:
            return await self._refresh()
        stale = asyncio.get_running_loop().time() - self._listed_at > STATE_TTL
        if stale and (self._refreshing is None or self._refreshing.done()):
            self._refreshing = asyncio.create_task(self._refresh_quietly())
        return self._listing

    async def machine_running(self, model_uuid: str, number: int) -> bool:
        """The container is ours and running; systemd keeps the agent in it alive.

        Answered from one listing of this controller's containers, refreshed at most every
        STATE_TTL seconds: the reconciler asks for every machine on every pass.
        """
        name = container_name(model_uuid, number)
        try:
            states = await self._states()
        except errors.TemporaryError as exc:
            # Reported through the provisioning attempt that follows.
            logger.warning("LXD is unreachable", error=exc.message)
            return False
        status, config = states.get(name, ("", {}))
        if not self._ours(config, model_uuid, number):
            if name in self._made:
                logger.warning("container is gone; it will be replaced", container=name)
                self._made.discard(name)
            return False
        return status == "Running"

    async def destroy_machine(self, model_uuid: str, number: int) -> None:
        name = container_name(model_uuid, number)
        config = await self.api.instance_config(name)
        if config is None:
            return
        if not self._ours(config, model_uuid, number):
            logger.warning("not deleting a container this controller did not make", container=name)
            return
        await self.api.delete(name)
        self._made.discard(name)
        self._changes += 1
        if self._listing is not None:
            self._listing.pop(name, None)
        logger.info("container deleted", container=name, machine=number)

    async def close(self) -> None:
        if self._refreshing is not None:
            self._refreshing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refreshing
        self.api.close()
