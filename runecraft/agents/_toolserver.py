"""The unit agent's end of the hook tools: a 0600 unix socket, and the tools dir.

One server per unit for the agent's lifetime. A request is served only while a hook runs,
only if it carries that hook's context id, and only if the connecting process (its
SO_PEERCRED) runs as the hook's user and is the hook process or a descendant of it: a
leftover process of an old hook, or a process that read the id from another hook's
environment, cannot act for the current one. Commands run one at a time, as in Juju.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import socket
import stat
import struct
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from runecraft import _logging, _tracing, errors
from runecraft.agents import _hookrecord, _hooktool, _proc, hooktools

__all__ = [
    "CLIENT_NAME",
    "MAX_REQUEST",
    "HookBinding",
    "ToolClient",
    "ToolServer",
    "client_script",
    "install_tools",
]

logger = _logging.get_logger(__name__)

CLIENT_NAME = "jujuc"
"""The client script's file name in the tools dir; every tool is a symlink to it."""
MAX_REQUEST = 64 * 1024 * 1024
ToolClient = Literal["auto", "perl", "python"]
MAX_SOCKET_PATH = 107
"""Linux `sun_path` holds 108 bytes including the terminating NUL."""
MAX_ANCESTRY = 64
"""Most parent links followed from a caller looking for the hook process."""
START_WAIT = 30.0
"""Longest a call waits for the hook runner to report the hook's pid (a hook can call a
tool before the runner's spawn call returned)."""


def client_script(client: ToolClient = "auto") -> str:
    """The client's text: the perl one where perl is (Debian: always), else the Python one
    run isolated (`-IS`); both speak `_hooktool`'s wire format."""
    perl = shutil.which("perl") if client != "python" else None
    if client == "perl" and perl is None:
        raise errors.PermanentError("the perl hook-tool client needs perl, which is not on PATH")
    if perl is not None:
        body = (Path(__file__).parent / "jujuc.pl").read_text(encoding="utf-8")
        return f"#!{perl}\n{body.split(chr(10), 1)[1]}"
    source = Path(_hooktool.__file__).read_text(encoding="utf-8")
    body = source.split("\n", 1)[1] if source.startswith("#!") else source
    return f"#!{sys.executable} -IS\n{body}"


def install_tools(
    tools_dir: Path, names: Iterable[str] | None = None, client: ToolClient = "auto"
) -> None:
    """Write the client and one symlink per tool, atomically."""
    tools_dir.mkdir(parents=True, exist_ok=True)
    script = client_script(client)
    target = tools_dir / CLIENT_NAME
    tmp = tools_dir / f".{CLIENT_NAME}.tmp"
    tmp.write_text(script, encoding="utf-8")
    tmp.chmod(0o755)
    tmp.replace(target)
    for name in sorted(hooktools.TOOLS if names is None else names):
        link = tools_dir / name
        if link.is_symlink() and os.readlink(link) == CLIENT_NAME:
            continue
        link.unlink(missing_ok=True)
        link.symlink_to(CLIENT_NAME)


def private_dir(path: Path) -> None:
    """Make sure `path` is a real directory that only we can enter (0700, owned by us): in
    a shared place another user could have made it, or a link, to reach our sockets."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise errors.PermanentError(
            f"{path} is not a directory owned by this agent: refusing to put sockets there"
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        path.chmod(0o700)


def _reply(code: int, stdout: bytes = b"", stderr: bytes = b"") -> bytes:
    """Exit code, stdout length, stdout, stderr (see `_hooktool` for the wire format)."""
    return code.to_bytes(4, "big", signed=True) + len(stdout).to_bytes(4, "big") + stdout + stderr


@dataclass(frozen=True)
class _Request:
    context: str
    tool: str
    cwd: Path
    args: list[str]
    stdin: bytes


def _decode(body: bytes) -> _Request:
    """Parse a request body; raises ValueError when it is malformed."""
    context, tool, cwd, count, rest = body.split(b"\0", 4)
    nargs = int(count)
    if nargs < 0:
        raise ValueError("negative argument count")
    parts = rest.split(b"\0", nargs + 1)
    if len(parts) != nargs + 2:
        raise ValueError("truncated request")
    *args, has_stdin, stdin = parts
    if has_stdin not in (b"0", b"1"):
        raise ValueError("bad stdin flag")
    return _Request(
        context=context.decode("utf-8", "surrogateescape"),
        tool=tool.decode("utf-8", "surrogateescape"),
        cwd=Path(os.fsdecode(cwd) or "/"),
        args=[arg.decode("utf-8", "surrogateescape") for arg in args],
        stdin=stdin,
    )


class ToolServer:
    """Serve hook-tool calls for one unit on `socket_path`."""

    def __init__(self, socket_path: Path) -> None:
        if len(os.fsencode(socket_path)) > MAX_SOCKET_PATH:
            raise ValueError(
                f"socket path {socket_path} is longer than {MAX_SOCKET_PATH} bytes; "
                "use a shorter data dir"
            )
        self.socket_path = socket_path
        self._server: asyncio.Server | None = None
        self._binding: HookBinding | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Bind the socket (replacing a stale one) with mode 0600 in a private dir."""
        private_dir(self.socket_path.parent)
        self.socket_path.unlink(missing_ok=True)
        # The unit dir is 0700, so the socket is private even before the chmod.
        self._server = await asyncio.start_unix_server(self._serve, path=self.socket_path)
        self.socket_path.chmod(0o600)

    async def close(self) -> None:
        """Stop serving and remove the socket file."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self.socket_path.unlink(missing_ok=True)

    async def __aenter__(self) -> ToolServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @contextlib.contextmanager
    def serving(
        self, ctx: hooktools.HookContext, *, uid: int | None = None
    ) -> Iterator[HookBinding]:
        """Accept calls for `ctx` (the running hook) inside the `with` block only, and only
        from the process given to `HookBinding.started` (running as `uid`, by default ours)
        or its descendants."""
        binding = HookBinding(ctx, os.geteuid() if uid is None else uid)
        self._binding = binding
        try:
            yield binding
        finally:
            self._binding = None
            binding.finish()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            size = int.from_bytes(await reader.readexactly(4), "big")
            if size > MAX_REQUEST:
                writer.write(_reply(1, stderr=b"ERROR request too large\n"))
                return
            request = _decode(await reader.readexactly(size))
            writer.write(await self._handle(request, _peer(writer)))
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            logger.debug("hook tool connection dropped", error=str(exc))
        except (ValueError, UnicodeDecodeError) as exc:
            logger.warning("bad hook tool request", error=str(exc))
            with contextlib.suppress(ConnectionError):
                writer.write(_reply(1, stderr=b"ERROR bad request\n"))
                await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _handle(self, request: _Request, peer: _Peer | None) -> bytes:
        context_id, tool = request.context, request.tool
        async with self._lock:
            binding = self._binding
            if binding is None or not secrets.compare_digest(
                context_id.encode(errors="surrogateescape"), binding.ctx.id.encode()
            ):
                logger.warning("hook tool call with a stale context", tool=tool)
                return _reply(1, stderr=f'ERROR bad context id "{context_id}"\n'.encode())
            refusal = await binding.refusal(peer)
            if refusal is None and binding.ended:
                refusal = f'caller is not the running hook of unit "{binding.ctx.remote.unit}"'
                refusal += " (the hook has ended)"
            if refusal is not None:
                logger.warning("hook tool call refused", tool=tool, reason=refusal)
                return _reply(1, stderr=f"ERROR permission denied: {refusal}\n".encode())
            ctx = binding.ctx
            serving = asyncio.current_task()
            if serving is not None:
                binding.serving.add(serving)
            try:
                with _tracing.span(
                    f"hook tool {tool}",
                    parent=binding.trace,
                    attributes={"runecraft.unit": ctx.remote.unit, "runecraft.hook_tool": tool},
                    orphan=False,
                ):
                    result = await hooktools.invoke(
                        ctx, tool, request.args, stdin=request.stdin, cwd=request.cwd
                    )
            except Exception as exc:  # a tool bug must fail the call, not the agent
                logger.exception("hook tool crashed", tool=tool)
                message = f"ERROR internal error: {exc}\n".encode()
                binding.calls.add(tool, request.args, 1, b"", message)
                return _reply(1, stderr=message)
            finally:
                if serving is not None:
                    binding.serving.discard(serving)
            binding.calls.add(tool, request.args, result.code, result.stdout, result.stderr)
        return _reply(result.code, result.stdout, result.stderr)


@dataclass(frozen=True)
class _Peer:
    pid: int
    uid: int


def _peer(writer: asyncio.StreamWriter) -> _Peer | None:
    """The connecting process as the kernel saw it at connect time (None off Linux)."""
    sock = writer.get_extra_info("socket")
    if sock is None or not hasattr(socket, "SO_PEERCRED"):
        return None
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, _gid = struct.unpack("3i", raw)
    return _Peer(pid=pid, uid=uid)


def _descends_from(pid: int, ancestor: int, ancestor_start: int | None) -> bool:
    """Whether `pid` is `ancestor` (the same process, not a reuse of its pid) or one of
    its descendants, following at most `MAX_ANCESTRY` parent links."""
    current = pid
    for _ in range(MAX_ANCESTRY):
        proc = _proc.stat(current)
        if proc is None:
            return False
        if current == ancestor:
            return ancestor_start is None or proc.started == ancestor_start
        parent = proc.ppid
        if parent <= 1:
            return False
        current = parent
    return False


class HookBinding:
    """The running hook a context id belongs to: its user, and its process once started."""

    def __init__(self, ctx: hooktools.HookContext, uid: int) -> None:
        self.ctx = ctx
        self.uid = uid
        self.trace = _tracing.traceparent()
        """The hook's span (current where the hook runs), parent of its tool calls' spans."""
        self.calls = _hookrecord.ToolCalls()
        """The calls served for this hook (its run's record)."""
        self._pid: asyncio.Future[tuple[int, int | None]] = (
            asyncio.get_running_loop().create_future()
        )
        self.ended = False
        self.serving: set[asyncio.Task[object]] = set()
        """The calls being served: ended with the hook (a `leader-set` waiting for room
        must neither hold the next hook's calls nor write after its hook ended)."""

    def started(self, pid: int) -> None:
        """The hook process is `pid` (called by the hook runner as soon as it knows)."""
        if not self._pid.done():
            self._pid.set_result((pid, _proc.start_time(pid)))

    def finish(self) -> None:
        """The hook ended: calls still waiting for its pid are refused, and calls still
        being served (from a process the hook left behind) are cancelled."""
        self.ended = True
        if not self._pid.done():
            self._pid.cancel()
        for task in self.serving:
            task.cancel()

    async def refusal(self, peer: _Peer | None) -> str | None:
        """Why the caller `peer` may not act in this hook, or None when it may."""
        unit = self.ctx.remote.unit
        denied = f'caller is not the running hook of unit "{unit}"'
        if peer is None:
            return f"{denied} (its credentials are unknown)"
        if peer.uid != self.uid:
            return f"{denied} (it runs as uid {peer.uid}, the hook as uid {self.uid})"
        try:
            async with asyncio.timeout(START_WAIT):
                pid, start = await asyncio.shield(self._pid)
        except TimeoutError:
            return f"{denied} (the hook process was never reported)"
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._pid.cancelled() and (task is None or not task.cancelling()):
                return f"{denied} (the hook has ended)"
            raise
        if not _descends_from(peer.pid, pid, start):  # a few /proc reads: fast
            return f"{denied} (pid {peer.pid} is not the hook process {pid} or its descendant)"
        return None
