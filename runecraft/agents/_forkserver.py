"""Ops hooks through a fork server: `import ops` once per charm, not once per hook.

Every ops hook is a new Python process whose first ~170 ms go to importing `ops`; the hook
itself is a few ms. For a charm whose `dispatch` is the standard one (charmcraft's, or the
one `rune` packs: `PYTHONPATH=lib:venv` and the Python entrypoint), the unit agent keeps a
fork server (`_zygote`) started with the same interpreter, directory and path, with the
charm's own `ops` imported, and each hook is a `fork()` of it. The hook process is the
same in every way the charm can see: its environment, cwd, argv, `sys.path`, stdin/stdout/
stderr, its own session (so cancelling kills its group), exit code. Anything else about
the charm, or any trouble with the server, and the hook is spawned as usual.

The server exits after `IDLE` seconds without a hook (its memory is ops' once per unit
only while the unit is busy) or when the agent that started it dies, and is replaced when
the charm on disk changes.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from runecraft import _logging
from runecraft.agents import _leftovers, _toolserver, _zygote

__all__ = ["IDLE", "ForkServer", "ForkedHook", "entrypoint"]

logger = _logging.get_logger(__name__)

IDLE = 120.0
"""Seconds without a hook after which the server exits."""
START_TIMEOUT = 60.0
"""Longest the server may take to import ops and say it is ready."""

_DISPATCH = re.compile(
    r'JUJU_DISPATCH_PATH="\$\{JUJU_DISPATCH_PATH:-\$0\}" PYTHONPATH=lib:venv '
    r"(exec |/usr/bin/env python3 |exec /usr/bin/env python3 )(\./[\w./-]+\.py)"
)
_PYTHON_SHEBANGS = {"#!/usr/bin/env python3": None, "#!/usr/bin/python3": "/usr/bin/python3"}


def entrypoint(charm_dir: Path, path_env: str) -> tuple[str, str] | None:
    """The interpreter and entrypoint (`./src/charm.py`) of a standard ops `dispatch`, or
    None when the charm dispatches any other way (then hooks are spawned as usual)."""
    try:
        text = (charm_dir / "dispatch").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    lines = text.replace("\\\n", " ").splitlines()
    if not lines or lines[0].strip() != "#!/bin/sh":
        return None
    body = " ".join(" ".join(line.split()) for line in lines[1:] if line.strip())
    match = _DISPATCH.fullmatch(body)
    if match is None:
        return None
    how, entry = match.groups()
    if how == "exec ":  # the entrypoint's own shebang picks the interpreter
        try:
            with (charm_dir / entry).open(encoding="utf-8") as file:
                shebang = file.readline().strip()
        except (OSError, UnicodeDecodeError):
            return None
        if shebang not in _PYTHON_SHEBANGS:
            return None
        fixed = _PYTHON_SHEBANGS[shebang]
        python = fixed if fixed is not None else shutil.which("python3", path=path_env)
    else:
        python = shutil.which("python3", path=path_env)
    return (python, entry) if python else None


def _identity(charm_dir: Path, entry: str) -> tuple[int, ...]:
    """Changes when the charm on disk is replaced (a refresh writes every file of the new
    archive anew): the server must restart. Not the charm dir itself, which hooks write to."""
    found: list[int] = []
    for path in (
        charm_dir / "dispatch",
        charm_dir / entry,
        charm_dir / "venv" / "ops" / "__init__.py",
    ):
        try:
            info = path.stat()
        except OSError:
            found += [0, 0]
            continue
        found += [info.st_ino, info.st_mtime_ns]
    return tuple(found)


@dataclass
class ForkedHook:
    """A hook process forked by the server: the parts of `asyncio.subprocess.Process` the
    hook runner uses."""

    pid: int
    stdout: asyncio.StreamReader
    stderr: asyncio.StreamReader
    _conn: socket.socket
    _buffer: bytes
    _transports: tuple[asyncio.BaseTransport, ...]
    returncode: int | None = None

    async def wait(self) -> int:
        """The exit code, once the server saw the process end."""
        if self.returncode is not None:
            return self.returncode
        loop = asyncio.get_running_loop()
        while b"\n" not in self._buffer:
            chunk = await loop.sock_recv(self._conn, 64)
            if not chunk:  # the server died: the hook is lost with it
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.returncode = -signal.SIGKILL
                self._conn.close()
                return self.returncode
            self._buffer += chunk
        line = self._buffer.split(b"\n", 1)[0].decode()
        self.returncode = int(line.removeprefix("exit "))
        self._conn.close()  # not the pipes: their last output may still be on its way
        return self.returncode

    def close(self) -> None:
        """Release the connection and the output pipes (once their readers are done)."""
        self._conn.close()
        for transport in self._transports:
            transport.close()


@dataclass
class _Server:
    process: asyncio.subprocess.Process
    identity: tuple[int, ...]
    python: str


class ForkServer:
    """One unit's fork server, started on its first eligible hook."""

    def __init__(
        self,
        socket_path: Path,
        log_path: Path,
        *,
        idle: float = IDLE,
        records: _leftovers.ProcessRecords | None = None,
    ) -> None:
        """`socket_path`: where the server listens; `log_path`: its stderr (appended);
        `records`: where its process group is kept on record while it runs."""
        self.socket_path = socket_path
        self.log_path = log_path
        self.idle = idle
        self._records = records
        self._server: _Server | None = None
        self._refused: tuple[int, ...] | None = None
        """The charm identity whose server could not start: not tried again."""

    @property
    def pid(self) -> int | None:
        """The running server's process id (None when there is none)."""
        server = self._server
        if server is None or server.process.returncode is not None:
            return None
        return server.process.pid

    async def start(
        self,
        charm_dir: Path,
        env: dict[str, str],
        on_fork: Callable[[int], Awaitable[None]] | None = None,
    ) -> ForkedHook | None:
        """Fork a hook with `env` in `charm_dir`; None when it must be spawned instead.

        `on_fork` is told the hook's pid (its session id) before the hook may run; the
        hook waits until it returns.
        """
        plan = entrypoint(charm_dir, env.get("PATH", ""))
        if plan is None:
            return None
        python, entry = plan
        identity = _identity(charm_dir, entry)
        if identity == self._refused:
            return None
        try:
            await self._ensure(charm_dir, python, entry, identity, env)
            return await self._fork(charm_dir, env, on_fork)
        except (OSError, ValueError, TimeoutError) as exc:
            try:
                said = self.log_path.read_bytes()[-400:].decode(errors="replace")
            except OSError:
                said = ""
            logger.warning("fork server unusable; spawning hooks", error=str(exc), log=said)
            await self.close()
            return None

    async def _ensure(
        self,
        charm_dir: Path,
        python: str,
        entry: str,
        identity: tuple[int, ...],
        env: dict[str, str],
    ) -> None:
        server = self._server
        if (
            server is not None
            and server.process.returncode is None
            and server.identity == identity
            and server.python == python
        ):
            return
        await self.close()
        self.socket_path.unlink(missing_ok=True)
        source = Path(_zygote.__file__).read_text(encoding="utf-8")
        with self.log_path.open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                python,
                "-c",
                source,
                str(self.socket_path),
                entry,
                str(self.idle),
                _toolserver.CLIENT_NAME,
                cwd=charm_dir,
                env={**env, "PYTHONPATH": "lib:venv"},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                start_new_session=True,
            )
        if self._records is not None:
            try:
                self._records.add(process.pid, "fork server")
            except OSError:  # a server not on record must not outlive this agent
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
                raise
        assert process.stdout is not None
        try:
            async with asyncio.timeout(START_TIMEOUT):
                ready = await process.stdout.readline()
        except TimeoutError:
            ready = b""
        if ready.strip() != b"ready":
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            self._forget(process.pid)
            self._refused = identity
            raise ValueError(f"the fork server did not start (see {self.log_path})")
        self._server = _Server(process=process, identity=identity, python=python)

    async def _fork(
        self, charm_dir: Path, env: dict[str, str], on_fork: Callable[[int], Awaitable[None]] | None
    ) -> ForkedHook:
        loop = asyncio.get_running_loop()
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.setblocking(False)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        devnull = os.open(os.devnull, os.O_RDONLY)
        sent_fds = (devnull, out_w, err_w)
        try:
            await loop.sock_connect(conn, str(self.socket_path))
            # What `dispatch` (sh) adds to the environment before it runs the entrypoint.
            hook_env = {
                "JUJU_DISPATCH_PATH": str(charm_dir / "dispatch"),
                **env,
                "PYTHONPATH": "lib:venv",
                "PWD": os.path.realpath(charm_dir),
            }
            body = json.dumps({"env": hook_env, "cwd": str(charm_dir)}).encode()
            message = len(body).to_bytes(4, "big") + body
            rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", sent_fds))]
            sent = conn.sendmsg([message], rights)
            if sent < len(message):  # never an empty send: the hook may have run and ended
                await loop.sock_sendall(conn, message[sent:])
        except BaseException:
            conn.close()
            for fd in (out_r, err_r):
                os.close(fd)
            raise
        finally:
            for fd in sent_fds:
                os.close(fd)
        transports: list[asyncio.BaseTransport] = []
        readers: list[asyncio.StreamReader] = []
        for fd in (out_r, err_r):
            reader = asyncio.StreamReader()
            transport, _ = await loop.connect_read_pipe(
                lambda reader=reader: asyncio.StreamReaderProtocol(reader),  # type: ignore[misc]
                os.fdopen(fd, "rb", 0),
            )
            transports.append(transport)
            readers.append(reader)
        buffer = b""
        try:
            while b"\n" not in buffer:
                chunk = await loop.sock_recv(conn, 64)
                if not chunk:
                    raise ValueError("the fork server closed the connection")
                buffer += chunk
        except BaseException:
            conn.close()
            for pipe in transports:
                pipe.close()
            raise
        line, rest = buffer.split(b"\n", 1)
        if not line.startswith(b"pid "):
            conn.close()
            raise ValueError(f"unexpected fork server answer {line[:40]!r}")
        pid = int(line[4:])
        try:
            if on_fork is not None:
                await on_fork(pid)
            await loop.sock_sendall(conn, b"go\n")  # now the hook may run
        except BaseException:
            conn.close()  # the server kills the hook
            for pipe in transports:
                pipe.close()
            raise
        return ForkedHook(
            pid=pid,
            stdout=readers[0],
            stderr=readers[1],
            _conn=conn,
            _buffer=rest,
            _transports=tuple(transports),
        )

    async def close(self) -> None:
        """Stop the server (hooks it forked run on in their own sessions)."""
        server, self._server = self._server, None
        if server is None:
            return
        if server.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                server.process.terminate()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await server.process.wait()
        if server.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                server.process.kill()
            await server.process.wait()
        self._forget(server.process.pid)
        self.socket_path.unlink(missing_ok=True)

    def _forget(self, pid: int) -> None:
        if self._records is not None:
            self._records.discard(pid)
