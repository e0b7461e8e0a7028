"""The composition root: one `Daemon` per `rune-pebble run`, holding every part and the routes.

Start-up follows `pebble run`: `--create-dirs` makes `$PEBBLE`; `PEBBLE_COPY_ONCE` seeds an
empty `$PEBBLE` (how a rock's `layers/` reach Juju's Pebble); the runtime reads
`$PEBBLE/layers` and, unless `--hold`, starts the enabled services; then the API listens on
the socket (and `--http`). Workloads get a `pebble` command (`$PEBBLE/bin/pebble`, first on
the PATH that services, exec and checks inherit, with `PEBBLE_SOCKET` set) so that
`pebble notify` from a workload reaches this daemon.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import shutil
import signal
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path

from runecraft.agents.pebble import (
    _api_edge,
    _api_exec,
    _api_files,
    _api_runtime,
    _files,
    _http,
    _runtime,
    _server,
)

__all__ = ["Daemon", "copy_once", "write_cli_shim"]

logger = logging.getLogger(__name__)

_PACKAGE_ROOT = os.path.abspath(Path(__file__).parents[3])
"""The sys.path entry this package was imported from: a directory, or the zipapp."""


class Daemon:
    """The agent: runtime (state, plan, services, checks), API routes, listeners."""

    def __init__(
        self,
        pebble_dir: Path,
        socket_path: Path,
        root: Path = Path("/"),
        unit: str | None = None,
        env: Mapping[str, str] | None = None,
        hold: bool = False,
        http_address: str | None = None,
        *,
        create_dirs: bool = False,
        copy_from: Path | None = None,
        identities_file: Path | None = None,
        verbose: bool = False,
    ) -> None:
        self.pebble_dir = pebble_dir
        self.socket_path = socket_path
        self.root = root
        self.unit = unit
        self.hold = hold
        self.http_address = http_address
        self.verbose = verbose
        self.boot_id = str(uuid.uuid4())
        self._base_env = dict(os.environ if env is None else env)
        self._create_dirs = create_dirs
        self._copy_from = copy_from
        self._identities_file = identities_file
        self._bound_http: str | None = None
        self._socket_bound = False
        self._server: _server.Server | None = None
        self._executions: _api_exec.Executions | None = None
        self.runtime: _runtime.Runtime | None = None

    @property
    def environment(self) -> dict[str, str]:
        """What services, exec and checks inherit: the daemon's environment with the
        `pebble` command first on PATH and the socket named."""
        env = dict(self._base_env)
        bin_dir = str(self.pebble_dir / "bin")
        env["PATH"] = os.pathsep.join(p for p in (bin_dir, env.get("PATH", "")) if p)
        env["PEBBLE"] = str(self.pebble_dir)
        env["PEBBLE_SOCKET"] = str(self.socket_path)
        return env

    async def start(self) -> None:
        """Prepare `$PEBBLE`, start the runtime, then listen."""
        self._prepare_dir()
        write_cli_shim(self.pebble_dir / "bin" / "pebble")
        environment = self.environment
        identities = _api_edge.Identities()
        if self._identities_file is not None:
            identities.load(self._identities_file)
        if self.verbose:  # services' output on stdout, as `pebble run --verbose`
            runtime = _runtime.Runtime(self.pebble_dir, environment)
        else:
            runtime = _runtime.Runtime(self.pebble_dir, environment, output=None)
        self.runtime = runtime
        router = _http.Router()
        _api_edge.add_routes(
            router,
            boot_id=self.boot_id,
            http_address=lambda: self._bound_http,
            identities=identities,
            services=lambda: runtime.services,
        )
        _api_files.add_routes(router, _files.Root(self.root))
        self._executions = _api_exec.Executions(
            runtime.state, lambda: runtime.plans.plan, environment
        )
        self._executions.add_routes(router)
        _api_runtime.add_routes(router, runtime)
        await runtime.start(self.hold)
        self._server = _server.Server(router, unit=self.unit)
        await self._server.listen_unix(self.socket_path)
        self._socket_bound = True
        if self.http_address:
            self._bound_http = await self._server.listen_tcp(self.http_address)
        logger.info("Started daemon (socket %s, boot-id %s)", self.socket_path, self.boot_id)

    async def stop(self) -> None:
        """Stop listening, end executions, stop the services; the socket file goes."""
        if self._server is not None:
            await self._server.close()
        if self._socket_bound:  # never another daemon's socket, found in use
            self.socket_path.unlink(missing_ok=True)
        if self._executions is not None:
            self._executions.close()
        if self.runtime is not None:
            await self.runtime.stop()
        logger.info("Stopped daemon")

    async def run(self) -> None:
        """Serve until SIGTERM or SIGINT, then stop cleanly."""
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        try:
            await self.start()
            await stopping.wait()
            logger.info("Exiting on signal")
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
            await self.stop()

    def _prepare_dir(self) -> None:
        if self._create_dirs:
            self.pebble_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self._copy_from is not None:
            copy_once(self._copy_from, self.pebble_dir)
        if not self.pebble_dir.is_dir():
            raise FileNotFoundError(
                f"pebble directory {self.pebble_dir} does not exist (use --create-dirs)"
            )


def copy_once(source: Path, dest: Path) -> bool:
    """Copy `source` into `dest` if `dest` is missing or empty (PEBBLE_COPY_ONCE); a
    missing source is skipped. Returns whether it copied."""
    if not source.exists():
        return False
    if dest.exists() and any(dest.iterdir()):
        return False
    shutil.copytree(source, dest, symlinks=True, dirs_exist_ok=True)
    return True


def write_cli_shim(path: Path) -> None:
    """`path` runs this agent's CLI with the interpreter running the daemon, from the same
    place (directory or zipapp), isolated from the workload's PYTHONPATH."""
    program = (
        "import sys; sys.path.insert(0, sys.argv.pop(1)); "
        "from runecraft.agents.pebble.__main__ import main; sys.exit(main())"
    )
    script = (
        "#!/bin/sh\n"
        "# The pebble command for workloads (pebble notify ...), served by rune-pebble.\n"
        f"exec {shlex.quote(sys.executable)} -I -c {shlex.quote(program)} "
        f'{shlex.quote(_PACKAGE_ROOT)} "$@"\n'
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.new")
    temp.write_text(script)
    temp.chmod(0o755)
    temp.replace(path)
