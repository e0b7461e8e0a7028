"""A small async facade over pylxd: the only module that touches it.

pylxd is synchronous, so every call runs on this facade's own small thread pool (off the
event loop); pylxd clients are not thread-safe, so each thread has its own client, and
several machines can be provisioned at once. pylxd and requests exceptions are mapped to
Runecraft's error tree here; nothing pylxd leaks out.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import hashlib
import logging
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from runecraft import errors
from runecraft.settings import LxdSettings

try:
    import pylxd
    import pylxd.exceptions
    import requests.exceptions
except ImportError:  # the `lxd` extra is not installed: said when LXD is first used
    HAVE_PYLXD = False
else:
    HAVE_PYLXD = True

__all__ = ["IMAGE_TAG", "ExecResult", "ImageInfo", "LxdApi"]

T = TypeVar("T")

IMAGE_TAG = "runecraft.image"
"""Image property set on import (to the alias imported under): the image is Runecraft's."""

THREADS = 8
"""Concurrent requests to LXD (each waits on the daemon or on a command in a container)."""

# pylxd's exec websockets log every open and close at INFO.
logging.getLogger("ws4py").setLevel(logging.WARNING)


@dataclass(frozen=True)
class ImageInfo:
    fingerprint: str
    aliases: tuple[str, ...]
    properties: dict[str, str]

    @property
    def runecraft_made(self) -> bool:
        """Imported by Runecraft (so Runecraft may delete it)."""
        return IMAGE_TAG in self.properties


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: str
    stderr: str


class LxdApi:
    """Async access to one LXD daemon (its unix socket by default)."""

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        cert: tuple[str, str] | None = None,
        verify: bool = True,
    ) -> None:
        if not HAVE_PYLXD:
            raise errors.PermanentError(
                "the LXD substrate needs pylxd: pip install 'runecraft[lxd]'"
            )
        if endpoint is not None and endpoint.startswith("/"):
            # A socket path: pylxd only recognises one that exists, so say it explicitly.
            endpoint = f"http+unix://{urllib.parse.quote(endpoint, safe='')}"
        self._endpoint = endpoint
        self._cert = cert
        self._verify = verify
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=THREADS, thread_name_prefix="lxd"
        )
        self._local = threading.local()

    @classmethod
    def from_settings(cls, settings: LxdSettings) -> LxdApi:
        """The daemon `settings` name, with their client certificate if both parts are set."""
        cert = None
        if settings.cert is not None and settings.key is not None:
            cert = (str(settings.cert), str(settings.key))
        return cls(settings.endpoint, cert=cert, verify=settings.verify)

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._executor, functools.partial(fn, *args, **kwargs)
            )
        except pylxd.exceptions.NotFound as exc:
            raise errors.NotFoundError(f"LXD: {exc}") from exc
        except (
            pylxd.exceptions.ClientConnectionFailed,
            requests.exceptions.ConnectionError,
        ) as exc:
            raise errors.TemporaryError(
                f"LXD is unreachable ({self._endpoint or 'local unix socket'}): {exc}"
            ) from exc
        except pylxd.exceptions.LXDAPIException as exc:
            raise errors.PermanentError(f"LXD refused: {exc}") from exc

    def _connect(self) -> Any:
        """This thread's client (made on first use)."""
        client = getattr(self._local, "client", None)
        if client is None:
            client = pylxd.Client(endpoint=self._endpoint, cert=self._cert, verify=self._verify)
            self._local.client = client
        return client

    async def ping(self) -> None:
        """Fail with a clear error if LXD does not answer."""
        await self._call(lambda: self._connect().host_info)

    async def has_image(self, alias: str) -> bool:
        def find() -> bool:
            return bool(self._connect().images.exists(alias, alias=True))

        return await self._call(find)

    async def import_image(self, tarball: Path, alias: str) -> str:
        """Import a unified image tarball under `alias`; returns its fingerprint.

        The image gets the `IMAGE_TAG` property: what marks it as Runecraft's to remove.
        """

        def create() -> str:
            client = self._connect()
            data = tarball.read_bytes()
            fingerprint = hashlib.sha256(data).hexdigest()
            if client.images.exists(fingerprint):
                image = client.images.get(fingerprint)
            else:
                try:
                    image = client.images.create(data, public=False, wait=True)
                except pylxd.exceptions.LXDAPIException:
                    if not client.images.exists(fingerprint):  # not a concurrent importer
                        raise
                    image = client.images.get(fingerprint)
            if (image.properties or {}).get(IMAGE_TAG) is None:
                image.properties = {**(image.properties or {}), IMAGE_TAG: alias}
                image.save(wait=True)
            if client.images.exists(alias, alias=True):
                current = client.images.get_by_alias(alias)
                if current.fingerprint == image.fingerprint:
                    return str(image.fingerprint)
                current.delete_alias(alias)
            image.add_alias(alias, "Runecraft machine image")
            return str(image.fingerprint)

        return await self._call(create)

    async def launch(self, name: str, *create: Any, **options: Any) -> bool:
        """`create` (same arguments), then start the container (idempotent: an existing one
        is just started). Returns whether it was created by this call."""
        created = await self.create(name, *create, **options)
        await self.start(name)
        return created

    async def create(
        self,
        name: str,
        alias: str,
        config: dict[str, str],
        network: str,
        root: dict[str, str] | None = None,
        profiles: list[str] | None = None,
    ) -> bool:
        """Create a container unless it exists; returns whether this call created it.

        `root` overrides the root disk device (pool, size); `profiles` replaces LXD's
        default list (["default"]).
        """

        def create() -> bool:
            client = self._connect()
            if client.instances.exists(name):
                return False
            devices: dict[str, dict[str, str]] = {
                "eth0": {"type": "nic", "network": network, "name": "eth0"}
            }
            if root:
                devices["root"] = {"type": "disk", "path": "/", **root}
            spec: dict[str, Any] = {
                "name": name,
                "source": {"type": "image", "alias": alias},
                "config": config,
                "devices": devices,
            }
            if profiles is not None:
                spec["profiles"] = profiles
            client.instances.create(spec, wait=True)
            return True

        return await self._call(create)

    async def start(self, name: str) -> None:
        """Start a container unless it runs; LXD's refusal names the reason (a device, …)."""

        def start() -> None:
            instance = self._connect().instances.get(name)
            if instance.status != "Running":
                instance.start(wait=True)

        try:
            await self._call(start)
        except errors.PermanentError as exc:
            reason = exc.message.removeprefix("LXD refused: ")
            raise errors.PermanentError(f"LXD could not start it: {reason}") from exc

    async def network_address(self, network: str) -> str:
        """The IPv4 address (without prefix length) of a managed bridge."""

        def address() -> str:
            cidr = str(self._connect().networks.get(network).config.get("ipv4.address") or "")
            return cidr.partition("/")[0]

        try:
            found = await self._call(address)
        except errors.NotFoundError as exc:
            raise errors.PermanentError(
                f'LXD network "{network}" does not exist: create it (scripts/lxd-setup.sh '
                "does) or name another bridge in RUNECRAFT_LXD_NETWORK"
            ) from exc
        if not found or found == "none":
            raise errors.PermanentError(f'LXD network "{network}" has no IPv4 address')
        return found

    async def default_pool(self) -> str | None:
        """The storage pool of the default profile's root disk."""

        def pool() -> str | None:
            devices = self._connect().profiles.get("default").devices or {}
            root = devices.get("root") or {}
            value = root.get("pool")
            return str(value) if value else None

        return await self._call(pool)

    async def has_pool(self, name: str) -> bool:
        return await self._call(lambda: bool(self._connect().storage_pools.exists(name)))

    async def instance_config(self, name: str) -> dict[str, str] | None:
        """A container's config keys, or None when there is no such container."""

        def config() -> dict[str, str] | None:
            client = self._connect()
            if not client.instances.exists(name):
                return None
            return {str(k): str(v) for k, v in client.instances.get(name).config.items()}

        return await self._call(config)

    async def tagged(self, key: str, value: str) -> list[str]:
        """Names of the containers whose config has `key` set to `value`."""

        def names() -> list[str]:
            return sorted(
                i.name for i in self._connect().instances.all() if i.config.get(key) == value
            )

        return await self._call(names)

    async def tagged_states(self, key: str, value: str) -> dict[str, tuple[str, dict[str, str]]]:
        """Status and config of every container whose `key` is `value`, in one request."""

        def states() -> dict[str, tuple[str, dict[str, str]]]:
            return {
                i.name: (str(i.status), {str(k): str(v) for k, v in i.config.items()})
                for i in self._connect().instances.all()
                if i.config.get(key) == value
            }

        return await self._call(states)

    async def image(self, name: str) -> ImageInfo | None:
        """The image an alias or a (leading part of a) fingerprint names, if any."""

        def find() -> ImageInfo | None:
            client = self._connect()
            if client.images.exists(name, alias=True):
                image = client.images.get_by_alias(name)
            elif client.images.exists(name):
                image = client.images.get(name)
            else:
                return None
            return ImageInfo(
                fingerprint=str(image.fingerprint),
                aliases=tuple(sorted(str(a["name"]) for a in image.aliases or ())),
                properties={str(k): str(v) for k, v in (image.properties or {}).items()},
            )

        return await self._call(find)

    async def delete_image(self, fingerprint: str) -> None:
        """Delete an image (containers made from it keep their own copy)."""

        def delete() -> None:
            self._connect().images.get(fingerprint).delete(wait=True)

        await self._call(delete)

    async def ipv4(self, name: str) -> str | None:
        def address() -> str | None:
            state = self._connect().instances.get(name).state()
            for nic, info in (state.network or {}).items():
                if nic == "lo":
                    continue
                for addr in info.get("addresses", []):
                    if addr.get("family") == "inet":
                        return str(addr["address"])
            return None

        return await self._call(address)

    async def status(self, name: str) -> str | None:
        """`Running`, `Stopped` …, or None when there is no such container."""

        def status() -> str | None:
            client = self._connect()
            if not client.instances.exists(name):
                return None
            return str(client.instances.get(name).status)

        return await self._call(status)

    async def execute(self, name: str, command: list[str]) -> ExecResult:
        def run() -> ExecResult:
            result = self._connect().instances.get(name).execute(command)
            return ExecResult(int(result.exit_code), str(result.stdout), str(result.stderr))

        return await self._call(run)

    async def push(self, name: str, path: str, data: bytes, mode: int = 0o600) -> None:
        def push() -> None:
            self._connect().instances.get(name).files.put(path, data, mode=mode)

        await self._call(push)

    async def delete(self, name: str) -> None:
        """Stop and delete a container; a missing one is fine."""

        def delete() -> None:
            client = self._connect()
            if not client.instances.exists(name):
                return
            instance = client.instances.get(name)
            if instance.status == "Running":
                instance.stop(force=True, wait=True)
            instance.delete(wait=True)

        await self._call(delete)

    async def containers(self, prefix: str) -> list[str]:
        def names() -> list[str]:
            return [i.name for i in self._connect().instances.all() if i.name.startswith(prefix)]

        return await self._call(names)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
