"""A small async facade over pylxd: the only module that touches it.

pylxd is synchronous, so every call runs on this facade's own single-thread executor (off
the event loop, and serialised, since pylxd clients are not thread-safe). pylxd and
requests exceptions are mapped to Runecraft's error tree here; nothing pylxd leaks out.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pylxd
import pylxd.exceptions
import requests.exceptions

from runecraft import errors

__all__ = ["ExecResult", "LxdApi"]

T = TypeVar("T")


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: str
    stderr: str


class LxdApi:
    """Async access to one LXD daemon (its unix socket by default)."""

    def __init__(self, endpoint: str | None = None) -> None:
        self._endpoint = endpoint
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="lxd"
        )
        self._client: Any = None

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
        if self._client is None:
            self._client = pylxd.Client(endpoint=self._endpoint)
        return self._client

    async def ping(self) -> None:
        """Fail with a clear error if LXD does not answer."""
        await self._call(lambda: self._connect().host_info)

    async def has_image(self, alias: str) -> bool:
        def find() -> bool:
            return bool(self._connect().images.exists(alias, alias=True))

        return await self._call(find)

    async def import_image(self, tarball: Path, alias: str) -> str:
        """Import a unified image tarball under `alias`; returns its fingerprint."""

        def create() -> str:
            client = self._connect()
            image = client.images.create(tarball.read_bytes(), public=False, wait=True)
            if client.images.exists(alias, alias=True):
                client.images.get_by_alias(alias).delete_alias(alias)
            image.add_alias(alias, "Runecraft machine image")
            return str(image.fingerprint)

        return await self._call(create)

    async def launch(self, name: str, alias: str, config: dict[str, str], network: str) -> None:
        """Create and start a container (idempotent: an existing one is just started)."""

        def launch() -> None:
            client = self._connect()
            if client.instances.exists(name):
                instance = client.instances.get(name)
            else:
                instance = client.instances.create(
                    {
                        "name": name,
                        "source": {"type": "image", "alias": alias},
                        "config": config,
                        "devices": {"eth0": {"type": "nic", "network": network, "name": "eth0"}},
                    },
                    wait=True,
                )
            if instance.status != "Running":
                instance.start(wait=True)

        await self._call(launch)

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
