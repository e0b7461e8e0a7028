"""The hook fork server's own process: `ops` imported once, one `fork()` per hook.

Run by `_forkserver` with the interpreter the charm's entrypoint names, in the charm dir,
with `PYTHONPATH=lib:venv` (as the charm's `dispatch` runs it), as
`python3 -c <this file> SOCKET ENTRYPOINT IDLE [CLIENT]` (CLIENT: the installed hook-tool
client's file name, see below). It imports `ops` from the charm's own
`venv/` (whatever version the charm packs), says `ready` on stdout, then serves one hook at
a time on the unix socket SOCKET, and exits after IDLE seconds without one.

A request is a 4-byte big-endian length and a JSON body `{"env": {...}, "cwd": "..."}`,
sent with the hook's stdin, stdout and stderr as SCM_RIGHTS descriptors. The answer is
`pid N\\n` once the hook process (in a session of its own) exists; it runs only when the
agent answers `go\\n` (it has put the session on record by then), and is killed if the
agent hangs up instead. Then comes `exit CODE\\n` when it ended (CODE as `subprocess`
gives it: negative for a signal). The hook process takes the descriptors as 0/1/2, the
environment and cwd it was given, and runs ENTRYPOINT as `__main__` exactly as
`python3 ENTRYPOINT` would (sys.argv, sys.path[0], SystemExit, tracebacks, atexit). The
server compiles ENTRYPOINT once (a `__main__` gets no `.pyc`) and freezes what ops made out
of the collector's reach before it forks (a collection in a hook would walk, and so copy,
every page of it); a hook that finds the file changed compiles it anew.

Off Kubernetes the Pebble sockets are not at `/charm/containers` (pebble.md §1.3): when a
hook's `RUNECRAFT_CONTAINERS_DIR` names another directory, `ops.pebble.Client` is given
the socket path under it instead (read at each call: one server serves many hooks).

Hook tools ops runs (`juju-log`, `status-set`, ...: five processes in a plain `config-changed`)
are answered in the hook process itself: `subprocess` as ops' hook-command runner sees it
sends the very request the installed client (`jujuc`) would send to the agent's socket and
returns what the client would have printed and exited with, without a process. Only a call
whose command PATH resolves to the installed client's own symlink is served so (a tool
anyone put earlier on PATH still runs), and only in the shapes ops uses; anything else goes
to the real `subprocess`. The agent sees the same caller (the hook process) and the same
request, so it checks and records the call as ever.

Only the standard library: this runs in the charm's Python, not the agent's.
"""

from __future__ import annotations  # the charm's Python may be older than ours

import atexit
import builtins
import contextlib
import functools
import gc
import importlib.machinery
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import traceback
import types
from typing import Any


def _exit_code(exc: SystemExit) -> int:
    """What the interpreter would exit with for `SystemExit(exc.code)`."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


_compiled: dict[str, tuple[tuple[int, int, int], types.CodeType]] = {}
"""Entrypoint path → (its inode, mtime and size when compiled, its code): a `__main__` has
no `.pyc`, so the server compiles it once, before the forks, not every hook."""


def _entry_code(script: str) -> types.CodeType:
    """The compiled `script`, compiled again only when the file is not the one compiled."""
    info = os.stat(script)
    key = (info.st_ino, info.st_mtime_ns, info.st_size)
    known = _compiled.get(script)
    if known is not None and known[0] == key:
        return known[1]
    with open(script, "rb") as file:
        code = compile(file.read(), script, "exec")
    _compiled[script] = (key, code)
    return code


def _run_main(script: str) -> None:
    """Run `script` as the interpreter runs `python3 SCRIPT`: a fresh `__main__`."""
    code = _entry_code(script)
    main = types.ModuleType("__main__")
    main.__file__ = script
    main.__dict__.update(
        __cached__=None,
        __loader__=importlib.machinery.SourceFileLoader("__main__", script),
        __builtins__=builtins,
    )
    sys.modules["__main__"] = main
    exec(code, main.__dict__)


def _run_hook(fds: list[int], env: dict[str, str], cwd: str, entry: str) -> None:
    """In the forked child: become the hook process, run the charm, never return."""
    code = 1
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        script = os.path.join(os.getcwd(), entry)  # `__main__.__file__`, unnormalised
        sys.argv = [entry]
        sys.path[0] = os.path.dirname(os.path.realpath(script))
        try:
            _run_main(script)
            code = 0
        except SystemExit as exc:
            code = _exit_code(exc)
        except BaseException as exc:
            # As the interpreter does: the hook (ops installs one) sees the charm's frames.
            tb = exc.__traceback__
            while tb is not None and tb.tb_frame.f_code.co_filename != script:
                tb = tb.tb_next
            tb = tb or exc.__traceback__
            sys.excepthook(type(exc), exc.with_traceback(tb), tb)
            code = 1
        try:
            atexit._run_exitfuncs()
        except BaseException:
            traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):
                stream.flush()
        os._exit(code)


def _read_request(conn: socket.socket) -> tuple[dict[str, object], list[int]]:
    data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
    if len(fds) != 3 or len(data) < 4:
        for fd in fds:
            os.close(fd)
        raise ValueError("a request carries a length, a body and 3 descriptors")
    size = int.from_bytes(data[:4], "big")
    body = data[4:]
    while len(body) < size:
        more = conn.recv(size - len(body))
        if not more:
            raise ValueError("request cut short")
        body += more
    return json.loads(body), fds


def _read_line(conn: socket.socket) -> bytes:
    line = b""
    while not line.endswith(b"\n"):
        more = conn.recv(1)
        if not more:
            return b""
        line += more
    return line[:-1]


def _serve_one(conn: socket.socket, listener: socket.socket, entry: str) -> None:
    request, fds = _read_request(conn)
    env = {str(k): str(v) for k, v in dict(request["env"]).items()}  # type: ignore[call-overload]
    cwd = str(request["cwd"])
    gate_r, gate_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        listener.close()
        conn.close()
        os.close(gate_w)
        os.setsid()
        if os.read(gate_r, 3) != b"go\n":  # the server is gone: never run unsupervised
            os._exit(111)
        os.close(gate_r)
        _run_hook(fds, env, cwd, entry)
    os.close(gate_r)
    for fd in fds:
        os.close(fd)
    try:
        conn.sendall(f"pid {pid}\n".encode())
        if _read_line(conn) != b"go":
            raise OSError("the agent hung up before the hook was on record")
        os.write(gate_w, b"go\n")
    except OSError:
        # The agent is gone (cancelled): nobody would supervise or stop this hook.
        for kill in (os.killpg, os.kill):
            with contextlib.suppress(OSError):
                kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    finally:
        os.close(gate_w)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    conn.sendall(f"exit {code}\n".encode())


_CONTAINERS = "/charm/containers"


def _rerouted(path: object) -> object:
    """A socket path under `/charm/containers/` moved to `$RUNECRAFT_CONTAINERS_DIR`."""
    real = os.environ.get("RUNECRAFT_CONTAINERS_DIR", "")
    if not real or real == _CONTAINERS or not isinstance(path, str):
        return path
    if path.startswith(_CONTAINERS + "/"):
        return real.rstrip("/") + path[len(_CONTAINERS) :]
    return path


def _reroute_pebble() -> None:
    """Wrap `ops.pebble.Client.__init__` so ops' hard-coded socket paths are rerouted."""
    try:
        from ops import pebble  # noqa: PLC0415 (the charm's own ops, already imported)
    except Exception:  # an ops without pebble: nothing to reroute
        return
    original: Any = pebble.Client.__init__

    @functools.wraps(original)
    def rerouting_init(self: object, *args: Any, **kwargs: Any) -> None:
        if "socket_path" in kwargs:
            kwargs["socket_path"] = _rerouted(kwargs["socket_path"])
        elif args:
            args = (_rerouted(args[0]), *args[1:])
        original(self, *args, **kwargs)

    setattr(pebble.Client, "__init__", rerouting_init)  # noqa: B010 (mypy: no method-assign)


_TOOL_RUN_OPTIONS = frozenset(
    {"capture_output", "check", "encoding", "errors", "input", "stdout", "stderr"}
)
"""The `subprocess.run` keywords of ops' hook-command calls; any other keyword: a process."""
MAX_REPLY = 256 * 1024 * 1024


def _wants_stdin(args: list[str]) -> bool:
    """True when the client would read stdin (`--file -` or `--file=-`), as `_hooktool`."""
    for index, arg in enumerate(args):
        if arg == "--":
            return False
        if arg == "--file=-" or (arg == "--file" and args[index + 1 : index + 2] == ["-"]):
            return True
    return False


def _installed_tool(command: str, client: str) -> str | None:
    """The tool name when `command` (as `execvp` finds it on the hook\'s PATH) is a symlink
    to the installed client `client` beside it; None for anything else."""
    found = command if "/" in command else shutil.which(command, path=os.environ.get("PATH"))
    if not found:
        return None
    try:
        if os.readlink(found) != client:
            return None
    except OSError:  # not a symlink: not ours
        return None
    if not os.path.isfile(os.path.join(os.path.dirname(found), client)):
        return None
    return os.path.basename(found)


def _ask_agent(tool: str, args: list[str], stdin: bytes | None) -> tuple[int, bytes, bytes]:
    """The installed client\'s exchange with the agent: exit code, stdout, stderr."""
    context = os.environ.get("JUJU_CONTEXT_ID", "")
    address = os.environ.get("JUJU_AGENT_SOCKET_ADDRESS", "")
    try:
        cwd = os.getcwdb()
    except OSError:
        cwd = b"/"
    fields = [context.encode(), tool.encode(), cwd, str(len(args)).encode()]
    fields += [arg.encode("utf-8", "surrogateescape") for arg in args]
    fields += [b"0" if stdin is None else b"1", stdin or b""]
    body = b"\0".join(fields)
    chunks: list[bytes] = []
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(address)
            sock.sendall(len(body).to_bytes(4, "big") + body)
            size = 0
            while chunk := sock.recv(1 << 16):
                size += len(chunk)
                if size > MAX_REPLY:
                    return 1, b"", b"ERROR reply from the unit agent is too large\n"
                chunks.append(chunk)
    except OSError as exc:
        return 1, b"", f"ERROR cannot reach the unit agent at {address}: {exc}\n".encode()
    reply = b"".join(chunks)
    if len(reply) < 8:
        return 1, b"", b"ERROR the unit agent closed the connection\n"
    code = int.from_bytes(reply[:4], "big", signed=True) & 0xFF  # as the client exits
    out_size = int.from_bytes(reply[4:8], "big")
    return code, reply[8 : 8 + out_size], reply[8 + out_size :]


class _ToolSubprocess:
    """`subprocess` for ops\' hook-command runner: `run` of an installed hook tool is served
    in this process; every other name and call is the real module\'s."""

    def __init__(self, client: str) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(subprocess, name)

    def run(self, args: Any, *rest: Any, **options: Any) -> Any:
        served = None
        if not rest and set(options) <= _TOOL_RUN_OPTIONS:
            served = self._served(args, options)
        if served is None:  # the caller's own `check`, whatever it says
            return subprocess.run(args, *rest, **options)  # noqa: PLW1510
        return served

    def _served(self, args: Any, options: dict[str, Any]) -> Any:
        if not isinstance(args, (list, tuple)) or not args:
            return None
        if not all(isinstance(arg, str) for arg in args):
            return None
        piped = options.get("stdout") == options.get("stderr") == subprocess.PIPE
        captured = options.get("capture_output", False)
        if captured == piped or "JUJU_AGENT_SOCKET_ADDRESS" not in os.environ:
            return None  # neither or both ways of capturing (`run` refuses both): not ours
        tool = _installed_tool(args[0], self._client)
        if tool is None:
            return None
        encoding = options.get("encoding")
        errors = options.get("errors")
        if errors is not None and encoding is None:
            return None  # the locale's encoding: the real `subprocess` knows it
        text = encoding is not None
        data = options.get("input")
        stdin: bytes | None = None
        if _wants_stdin(list(args[1:])):
            if data is None:
                return None  # the client would read the hook\'s own stdin: let it
            stdin = data.encode(encoding or "utf-8", errors or "strict") if text else data
        code, out, err = _ask_agent(tool, list(args[1:]), stdin)
        stdout: Any = out
        stderr: Any = err
        if text:  # as `subprocess` decodes text: universal newlines
            stdout, stderr = (
                raw.decode(encoding or "utf-8", errors or "strict")
                .replace("\r\n", "\n")
                .replace("\r", "\n")
                for raw in (out, err)
            )
        if options.get("check") and code:
            raise subprocess.CalledProcessError(code, args, output=stdout, stderr=stderr)
        return subprocess.CompletedProcess(args, code, stdout, stderr)


def _serve_tools_in_process(client: str) -> None:
    """Give ops\' hook-command runners (`ops.hookcmds._utils`, and `ops.model` in ops 2)
    the in-process `subprocess`; an ops with neither keeps running tool processes."""
    proxy = _ToolSubprocess(client)
    for name in ("ops.hookcmds._utils", "ops.model"):
        module = sys.modules.get(name)
        if module is not None and getattr(module, "subprocess", None) is subprocess:
            module.subprocess = proxy  # type: ignore[attr-defined]


def _die_with_parent() -> None:
    """Linux: end with the agent that started us, rather than IDLE seconds later."""
    parent = os.getppid()
    try:
        import ctypes  # noqa: PLC0415 (only here, once)

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it died before the request took
        sys.exit(0)


def main() -> int:
    path, entry, idle = sys.argv[1], sys.argv[2], float(sys.argv[3])
    client = sys.argv[4] if len(sys.argv) > 4 else ""
    _die_with_parent()
    sys.path[0] = os.path.dirname(os.path.realpath(entry))
    import ops  # noqa: F401, PLC0415 (after the path is the charm's; hooks find it imported)

    _reroute_pebble()
    if client:
        _serve_tools_in_process(client)
    with contextlib.suppress(OSError, SyntaxError, ValueError):  # a hook reports it
        _entry_code(os.path.join(os.getcwd(), entry))

    gc.freeze()  # what ops made is shared with every hook: no collection walks (and copies) it
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(8)
    listener.settimeout(idle)
    print("ready", flush=True)
    while True:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            return 0
        with conn:
            conn.settimeout(None)
            try:
                _serve_one(conn, listener, entry)
            except (OSError, ValueError) as exc:
                print(f"bad request: {exc}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
