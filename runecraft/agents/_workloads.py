"""Workload containers of a sidecar charm: where their Pebble sockets are, and the watchers
that turn what the daemons say into `<c>-pebble-*` hooks (pebble.md §5).

A charm reaches container `<c>` only at `/charm/containers/<c>/pebble.socket` (ops hard-codes
it, pebble.md §1.1). On Kubernetes that is where the sockets are. On local and LXD machines
each unit gets a short private directory instead (AF_UNIX paths are at most 107 bytes, unit
dirs can be long), named in every hook's `RUNECRAFT_CONTAINERS_DIR`, and the fork server
rewrites ops' socket paths to it (`_zygote`).

Per container, a `Watcher` (Juju's `pebblepoller.go` and `pebblenotices.go`):

* polls `GET /v1/system-info` every `POLL_INTERVAL` and queues `ready` whenever `boot-id`
  differs from the last one seen. The last boot id is kept in memory, as Juju does, so a
  restarted agent runs `<c>-pebble-ready` again. (Juju records it once the hook
  succeeded; here it is recorded when queued, the queued hook being persisted and a
  failed one retried like any hook in error.);
* long-polls `GET /v1/notices?users=all&after=<cursor>&timeout=30s` and queues
  `custom-notice` for `custom` notices, and `check-failed` / `check-recovered` for
  `change-update` notices of `perform-check` changes in `Error` / `recover-check` changes
  in `Done` (asked with `GET /v1/changes/<key>`; a 404 means "assume final"). The cursor
  is persisted with the events it produced, so unlike Juju (whose cursor is in memory) a
  restarted agent does not deliver notices again. While more than `MAX_PENDING` of the
  container's events wait for hooks, notices are not read.

A missing socket is expected (the daemon is not up yet) and quiet; any other error is
logged once per kind and retried after `RETRY_DELAY`. Nothing here can crash the agent.
httpx over the unix socket is used only in this module, imported by the first watcher: the
agent of a machine charm's units never needs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import stat
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from runecraft import _logging
from runecraft.agents import _pebble_daemon, _toolserver, uniter
from runecraft.schemas import agent as agent_schema

if TYPE_CHECKING:
    import httpx

__all__ = [
    "KUBERNETES_CONTAINERS_DIR",
    "MAX_PENDING",
    "MAX_SOCKET_PATH",
    "POLL_INTERVAL",
    "RETRY_DELAY",
    "Watcher",
    "WorkloadSink",
    "Workloads",
    "charm_containers",
    "containers_dir",
    "ensure_private_dir",
]

logger = _logging.get_logger(__name__)

KUBERNETES_CONTAINERS_DIR = Path("/charm/containers")
"""Where ops looks for the sockets, and where they are in a Kubernetes pod."""
CONTAINERS_DIR_ENV = "RUNECRAFT_CONTAINERS_DIR"
POLL_INTERVAL = 1.0
"""Seconds between `system-info` polls. Juju polls every 5 s; 1 s makes `pebble-ready`
follow a (re)started daemon closely for the price of one tiny request per second."""
RETRY_DELAY = 1.0
"""Seconds before retrying after an error (Juju's notices worker waits 1 s too)."""
NOTICE_TIMEOUT = "30s"
"""The long-poll's server-side timeout, as Juju sends it."""
_REQUEST_TIMEOUT = 10.0
_LONG_POLL_TIMEOUT = 45.0
"""Client timeout of the notices long-poll: the server's 30 s plus slack."""
MAX_SOCKET_PATH = 107
MAX_PENDING = 50
"""Notices are not read (the cursor stays) while a container has more events than this
waiting for hooks, e.g. while the unit is in hook error. Juju's watcher blocks until each
hook has run; this bounds the queue instead, pending duplicates being coalesced."""


def containers_dir(unit_dir: Path, *, pod: bool) -> Path:
    """This unit's `/charm/containers`.

    In a pod it is `/charm/containers` (or the pod's `RUNECRAFT_CONTAINERS_DIR`). On a
    machine: `/run/runecraft-pebble/<12 hex>` as root, else under the agent's runtime dir
    (`runtime_dir`) or `<tmp>/runecraft-pebble-<uid>/`, the hex naming the unit dir.
    """
    if pod:
        return Path(os.environ.get(CONTAINERS_DIR_ENV) or KUBERNETES_CONTAINERS_DIR)
    digest = hashlib.sha256(os.fsencode(unit_dir)).hexdigest()[:12]
    uid = os.geteuid()
    if uid == 0:
        return Path("/run/runecraft-pebble") / digest
    runtime = runtime_dir()
    base = runtime / "pebble" if runtime is not None else _user_base(uid)
    return base / digest


def _user_base(uid: int) -> Path:
    return Path(tempfile.gettempdir()) / f"runecraft-pebble-{uid}"


def runtime_dir() -> Path | None:
    """The short private dir a provider made for this agent's user
    (`RUNTIME_BASE/<uid>`), if there is one."""
    path = Path(agent_schema.RUNTIME_BASE) / str(os.geteuid())
    try:
        info = path.lstat()
    except OSError:
        return None
    if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid():
        return path
    return None


def ensure_private_dir(path: Path) -> None:
    """Create `path` and its parent 0700, refusing either if it is not a directory of our
    own (in a shared /tmp another user could have made it to read our sockets)."""
    for directory in (path.parent, path):
        _toolserver.private_dir(directory)


def charm_containers(charm_dir: Path) -> tuple[str, ...]:
    """The workload containers the deployed charm declares (`containers:`), sorted."""
    try:
        meta = yaml.safe_load((charm_dir / "metadata.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return ()
    containers = meta.get("containers") if isinstance(meta, dict) else None
    if not isinstance(containers, dict):
        return ()
    return tuple(sorted(str(name) for name in containers))


class WorkloadSink(Protocol):
    """Where watchers put events (the unit agent, which persists them)."""

    def notice_cursor(self, container: str) -> str:
        """The `after=` of the container's notices ('' for none yet)."""

    def pending(self, container: str) -> int:
        """How many of the container's events wait for their hooks."""

    def deliver(
        self, container: str, events: Sequence[uniter.WorkloadEvent], cursor: str | None = None
    ) -> None:
        """Queue `events` and, with `cursor`, move the cursor: persisted in the same write
        when an event was queued, else kept in memory until the next write (notices that
        gave no event may be read again after a restart, which is harmless)."""


class _UnavailableError(Exception):
    """The daemon cannot be reached (quiet: it is starting, restarting or absent)."""


class _ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class _Pebble:
    """The three reads the watcher makes, over the unix socket."""

    def __init__(self, socket: Path) -> None:
        import httpx  # noqa: PLC0415 (only sidecar charms' units have workloads to watch)

        self.socket = socket
        self._unreachable = (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError)
        self._client: httpx.AsyncClient = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=str(socket)),
            base_url="http://localhost",
            timeout=_REQUEST_TIMEOUT,
        )

    async def get(
        self, path: str, params: Mapping[str, str] | None = None, timeout: float | None = None
    ) -> Any:
        """The `result` of a sync response; `_ApiError` for an error response."""
        if not self.socket.exists():
            raise _UnavailableError(f"no socket at {self.socket}")
        try:
            response = await self._client.get(
                path, params=params, timeout=timeout or _REQUEST_TIMEOUT
            )
        except self._unreachable as exc:
            raise _UnavailableError(str(exc) or type(exc).__name__) from exc
        body = response.json()
        if not isinstance(body, dict):
            raise ValueError(f"{path}: not a Pebble response")
        result = body.get("result")
        if response.status_code >= 400 or body.get("type") == "error":
            message = result.get("message", "") if isinstance(result, dict) else ""
            raise _ApiError(response.status_code, str(message))
        return result

    async def aclose(self) -> None:
        await self._client.aclose()


class Watcher:
    """Watches one container's daemon: `await run()` until cancelled."""

    def __init__(
        self,
        container: str,
        socket: Path,
        sink: WorkloadSink,
        *,
        poll_interval: float = POLL_INTERVAL,
        retry_delay: float = RETRY_DELAY,
    ) -> None:
        self.container = container
        self.socket = socket
        self._sink = sink
        self._poll_interval = poll_interval
        self._retry_delay = retry_delay
        self._log = logger.bind(container=container)
        self.boot_id = ""
        """The last boot id seen (in memory, as Juju keeps it)."""

    async def run(self) -> None:
        """Poll the boot id and long-poll notices, side by side."""
        pebble = _Pebble(self.socket)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._guarded(self._poll_boot, pebble))
                tg.create_task(self._guarded(self._poll_notices, pebble))
        finally:
            await asyncio.shield(pebble.aclose())

    async def _guarded(self, step: Any, pebble: _Pebble) -> None:
        """Run `step` forever; an error is logged (once while it repeats) and retried."""
        said = ""
        while True:
            try:
                delay = await step(pebble)
                said = ""
            except _UnavailableError as exc:
                if said != "unavailable":
                    self._log.debug("pebble unavailable", error=str(exc))
                said, delay = "unavailable", self._retry_delay
            except Exception as exc:  # a watcher never takes the agent down
                text = f"{type(exc).__name__}: {exc}"
                if text != said:
                    self._log.warning("pebble watcher error; retrying", error=text)
                said, delay = text, self._retry_delay
            await asyncio.sleep(delay)

    async def _poll_boot(self, pebble: _Pebble) -> float:
        info = await pebble.get("/v1/system-info")
        boot_id = str(info["boot-id"])
        if boot_id and boot_id != self.boot_id:
            self._log.info("pebble (re)started", boot_id=boot_id)
            self._sink.deliver(self.container, [self._event("ready")])
            self.boot_id = boot_id
        return self._poll_interval

    async def _poll_notices(self, pebble: _Pebble) -> float:
        if self._sink.pending(self.container) > MAX_PENDING:
            return self._retry_delay  # the cursor waits until hooks have run
        params = {"users": "all", "timeout": NOTICE_TIMEOUT}
        cursor = self._sink.notice_cursor(self.container)
        if cursor:
            params["after"] = cursor
        notices = await pebble.get("/v1/notices", params, timeout=_LONG_POLL_TIMEOUT)
        if not isinstance(notices, list) or not notices:
            return self._retry_delay  # the long-poll timed out (or the server cannot wait)
        events: list[uniter.WorkloadEvent] = []
        for notice in notices:
            event = await self._notice_event(pebble, notice)
            if event is not None:
                events.append(event)
        # Sorted by last-repeated, all strictly after the cursor: the last one moves it.
        self._sink.deliver(self.container, events, str(notices[-1]["last-repeated"]))
        return 0.0

    async def _notice_event(
        self, pebble: _Pebble, notice: Mapping[str, Any]
    ) -> uniter.WorkloadEvent | None:
        kind = notice.get("type")
        if kind == "custom":
            return self._event(
                "custom-notice",
                notice_id=str(notice["id"]),
                notice_type="custom",
                notice_key=str(notice["key"]),
            )
        data = notice.get("last-data") or {}
        change_kind = data.get("kind")
        if kind != "change-update" or change_kind not in ("perform-check", "recover-check"):
            return None
        try:
            change = await pebble.get(f"/v1/changes/{notice['key']}")
            status = str(change.get("status", ""))
        except _ApiError as exc:
            if exc.status != 404:
                raise
            status = "final"  # the change is gone: Juju assumes it reached its end
        check = str(data.get("check-name", ""))
        if change_kind == "perform-check" and status in ("Error", "final"):
            return self._event("check-failed", check_name=check)
        if change_kind == "recover-check" and status in ("Done", "final"):
            return self._event("check-recovered", check_name=check)
        return None

    def _event(
        self,
        kind: uniter.WorkloadKind,
        *,
        notice_id: str = "",
        notice_type: str = "",
        notice_key: str = "",
        check_name: str = "",
    ) -> uniter.WorkloadEvent:
        return uniter.WorkloadEvent(
            container=self.container,
            kind=kind,
            notice_id=notice_id,
            notice_type=notice_type,
            notice_key=notice_key,
            check_name=check_name,
        )


class Workloads:
    """A unit's container watchers (and, on machines, their daemons), kept in step with the
    containers of the deployed charm by `sync`; `close` stops everything."""

    def __init__(
        self,
        *,
        unit: str,
        unit_dir: Path,
        containers_dir: Path,
        sink: WorkloadSink,
        daemons: bool,
        poll_interval: float = POLL_INTERVAL,
    ) -> None:
        """`daemons`: run a local `rune-pebble` per container (machines, not pods)."""
        self.unit = unit
        self.unit_dir = unit_dir
        self.containers_dir = containers_dir
        self.daemons = daemons
        self.sink = sink
        self._poll_interval = poll_interval
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping: set[asyncio.Task[None]] = set()
        """Tasks of containers the charm dropped, until their daemons are gone."""
        self.local: dict[str, _pebble_daemon.LocalDaemon] = {}
        """The local daemons by container (machines only)."""

    @property
    def containers(self) -> tuple[str, ...]:
        """The containers being watched."""
        return tuple(sorted(self._tasks))

    def socket(self, container: str) -> Path:
        """The socket of a container's daemon."""
        return self.containers_dir / container / "pebble.socket"

    def sync(self, containers: Iterable[str]) -> None:
        """Watch (and run) exactly `containers`. Raises `PermanentError` when the private
        socket dir cannot be made."""
        wanted = set(containers)
        for name in [name for name in self._tasks if name not in wanted]:
            task = self._tasks.pop(name)
            task.cancel()
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)
            self.local.pop(name, None)
        new = sorted(wanted - set(self._tasks))
        if new and self.daemons:
            ensure_private_dir(self.containers_dir)
        for name in new:
            self._tasks[name] = asyncio.create_task(self._container(name), name=f"pebble {name}")

    async def _container(self, name: str) -> None:
        """One container's watcher (and daemon) until cancelled; a fault is logged, never
        raised (the unit goes on; the next `sync` after a charm change tries again)."""
        socket = self.socket(name)
        log = logger.bind(unit=self.unit, container=name)
        if len(os.fsencode(socket)) > MAX_SOCKET_PATH:
            log.error("pebble socket path too long", socket=str(socket))
            return
        watcher = Watcher(name, socket, self.sink, poll_interval=self._poll_interval)
        try:
            async with asyncio.TaskGroup() as tg:
                if self.daemons:
                    paths = _pebble_daemon.DaemonPaths(self.unit_dir / "containers" / name, socket)
                    daemon = _pebble_daemon.LocalDaemon(self.unit, name, paths)
                    self.local[name] = daemon
                    tg.create_task(daemon.run())
                tg.create_task(watcher.run())
        except Exception:  # the agent outlives any fault of a container's tasks
            log.exception("workload container tasks failed")

    async def close(self) -> None:
        """Stop every watcher and daemon (waits until the daemons are gone)."""
        tasks = [*self._tasks.values(), *self._stopping]
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.local.clear()
        if self.daemons:  # the sockets are gone: leave no empty dirs behind in /run or /tmp
            for directory in (*self.containers_dir.glob("*/"), self.containers_dir):
                with contextlib.suppress(OSError):
                    directory.rmdir()
